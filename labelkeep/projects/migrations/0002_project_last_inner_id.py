from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="last_inner_id",
            field=models.PositiveBigIntegerField(default=0),
        ),
    ]
