from typing import Any

from django.db import migrations, models


def mark_projects_with_drafts(apps: Any, schema_editor: Any) -> None:
    """Projects that already have drafts (saved before the flag was kept)."""
    Project = apps.get_model("projects", "Project")
    Draft = apps.get_model("tasks", "Draft")
    with_drafts = Draft.objects.values("project_id")
    Project.objects.filter(pk__in=with_drafts).update(has_drafts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0007_project_control_weights"),
        ("tasks", "0015_draft"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="has_drafts",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.RunPython(mark_projects_with_drafts, migrations.RunPython.noop),
    ]
