from typing import Any

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "labelkeep.tasks"
    label = "tasks"

    def ready(self) -> None:
        from labelkeep.projects.signals import project_deleting, project_settings_changed
        from labelkeep.projects.usage import register_work_reader
        from labelkeep.tasks import schema  # noqa: F401  (registers the list's task schema)
        from labelkeep.tasks.usage import READER

        register_work_reader(READER)
        project_settings_changed.connect(_settings_changed, dispatch_uid="tasks-overlap")
        project_deleting.connect(_deleting, dispatch_uid="tasks-delete")


def _settings_changed(sender: Any, project: Any, fields: set[str], **kwargs: Any) -> None:
    if "maximum_annotations" in fields:
        from labelkeep.tasks.counters import apply_overlap

        apply_overlap(project)


def _deleting(sender: Any, project: Any, **kwargs: Any) -> None:
    from labelkeep.tasks import deletion

    for part in deletion.slices(project.pk, None):
        deletion.delete_slice(part)
