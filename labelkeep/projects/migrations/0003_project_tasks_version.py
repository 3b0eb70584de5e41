from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0002_project_last_inner_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="tasks_version",
            field=models.PositiveBigIntegerField(default=0),
        ),
    ]
