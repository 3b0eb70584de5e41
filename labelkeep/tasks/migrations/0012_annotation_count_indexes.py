from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0005_project_settings"),
        ("tasks", "0011_annotation_parent_prediction"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="annotation",
            index=models.Index(
                condition=models.Q(("was_cancelled", True)),
                fields=["project"],
                name="annotation_skipped",
            ),
        ),
        migrations.AddIndex(
            model_name="annotation",
            index=models.Index(
                condition=models.Q(("ground_truth", True)),
                fields=["project", "was_cancelled"],
                name="annotation_ground_truth",
            ),
        ),
    ]
