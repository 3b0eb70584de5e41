from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0006_project_show_overlap_first"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="control_weights",
            field=models.JSONField(db_default={}, default=dict),
        ),
    ]
