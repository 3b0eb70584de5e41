
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0004_project_uncertainty_sampling"),
        ("tasks", "0006_task_inner_id"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="annotation",
            name="completed_by",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="annotations",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(
                fields=["project", "model_version", "score", "task"],
                name="prediction_version_score",
            ),
        ),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(fields=["project", "score", "task"], name="prediction_score"),
        ),
    ]
