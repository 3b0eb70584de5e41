from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_project_tasks_version"),
    ]

    operations = [
        migrations.AlterField(
            model_name="project",
            name="sampling",
            field=models.CharField(
                choices=[
                    ("Sequential sampling", "Sequential"),
                    ("Uniform sampling", "Uniform"),
                    ("Uncertainty sampling", "Uncertainty"),
                ],
                default="Sequential sampling",
                max_length=32,
            ),
        ),
    ]
