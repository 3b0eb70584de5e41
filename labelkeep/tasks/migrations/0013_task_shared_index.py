from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0012_annotation_count_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("overlap__gt", 1)),
                fields=["project", "is_labeled", "id"],
                name="task_project_shared",
            ),
        ),
    ]
