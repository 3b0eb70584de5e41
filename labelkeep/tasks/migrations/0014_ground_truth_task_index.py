from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0013_task_shared_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="annotation",
            name="annotation_ground_truth",
        ),
        migrations.AddIndex(
            model_name="annotation",
            index=models.Index(
                condition=models.Q(("ground_truth", True)),
                fields=["project", "was_cancelled", "task"],
                name="annotation_ground_truth",
            ),
        ),
    ]
