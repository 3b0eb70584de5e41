from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0004_project_uncertainty_sampling"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="enable_empty_annotation",
            field=models.BooleanField(db_default=True, default=True),
        ),
        migrations.AddField(
            model_name="project",
            name="evaluate_predictions_automatically",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="project",
            name="is_draft",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="project",
            name="is_published",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="project",
            name="min_annotations_to_start_training",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="project",
            name="overlap_cohort_percentage",
            field=models.PositiveSmallIntegerField(db_default=100, default=100),
        ),
        migrations.AddField(
            model_name="project",
            name="pinned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="project",
            name="reveal_preannotations_interactively",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="project",
            name="show_annotation_history",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="project",
            name="show_collab_predictions",
            field=models.BooleanField(db_default=True, default=True),
        ),
        migrations.AddField(
            model_name="project",
            name="show_ground_truth_first",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="project",
            name="start_training_on_annotation_update",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
