"""Import records keep the request's options, whether their files could be task lists, and
when they last changed. Records made before are filled in from what is known: a queued
import's job kept its options; the formats read tell whether a file could be a task list;
a record last changed when it finished (or, unfinished, when it was made)."""

from typing import Any

from django.db import migrations, models
from django.db.models.functions import Coalesce

LIST_FORMATS = {".csv", ".tsv", ".txt"}  # labelkeep.dataio.formats.LIST_FORMATS, as of now


def fill_in(apps: Any, schema_editor: Any) -> None:
    project_import = apps.get_model("dataio", "ProjectImport")
    project_import.objects.update(updated_at=Coalesce("finished_at", "created_at"))
    changed = []
    for done in project_import.objects.select_related("job").iterator(chunk_size=1000):
        payload = done.job.payload if done.job is not None else {}
        done.commit_to_project = bool(payload.get("commit", True))
        done.preannotated_from_fields = list(payload.get("preannotated_from_fields", ()))
        done.could_be_tasks_list = bool(LIST_FORMATS & set(done.found_formats or ()))
        changed.append(done)
    fields = ["commit_to_project", "preannotated_from_fields", "could_be_tasks_list"]
    project_import.objects.bulk_update(changed, fields, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("dataio", "0002_projectimport_written"),
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="projectimport",
            name="commit_to_project",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="projectimport",
            name="could_be_tasks_list",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="projectimport",
            name="preannotated_from_fields",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="projectimport",
            name="return_task_ids",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="projectimport",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.RunPython(fill_in, migrations.RunPython.noop),
    ]
