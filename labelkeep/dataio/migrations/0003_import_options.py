"""Import records keep the request's options, whether their files could be task lists, and
when they last changed. Records made before are filled in from what is known: a queued
import's job kept its options; the formats read tell whether a file could be a task list;
a record last changed when it finished (or, unfinished, when it was made)."""

from typing import Any

from django.db import migrations, models
from django.db.models.functions import Coalesce

LIST_FORMATS = {".csv", ".tsv", ".txt"}  # labelkeep.dataio.formats.LIST_FORMATS, as of now


def fill_in(apps: Any, schema_editor: Any) -> None:
    """Reads three small columns of each record (never its task ids, which may be a
    quarter of a million), then writes each distinct set of values once per 1,000 ids."""
    project_import = apps.get_model("dataio", "ProjectImport")
    project_import.objects.update(updated_at=Coalesce("finished_at", "created_at"))
    groups: dict[tuple[bool, tuple[str, ...], bool], list[int]] = {}
    rows = project_import.objects.values_list("pk", "job__payload", "found_formats")
    for pk, payload, found in rows.iterator(chunk_size=1000):
        given = payload if isinstance(payload, dict) else {}
        key = (
            bool(given.get("commit", True)),
            tuple(given.get("preannotated_from_fields", ())),
            bool(LIST_FORMATS & set(found or ())),
        )
        groups.setdefault(key, []).append(pk)
    for (commit, fields, lists), pks in groups.items():
        for start in range(0, len(pks), 1000):
            project_import.objects.filter(pk__in=pks[start : start + 1000]).update(
                commit_to_project=commit,
                preannotated_from_fields=list(fields),
                could_be_tasks_list=lists,
            )


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
