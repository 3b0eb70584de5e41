from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0005_project_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="show_overlap_first",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
