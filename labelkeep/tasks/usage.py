"""Labels used by a project's annotations (for refusing configs that orphan them)."""

from __future__ import annotations

from labelkeep.projects import labelconfig
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation


def labels_used(project: Project) -> set[tuple[str, str, str]]:
    used: set[tuple[str, str, str]] = set()
    results = Annotation.objects.filter(project=project).values_list("result", flat=True)
    for result in results.iterator(chunk_size=2000):
        used |= labelconfig.labels_in_result(result or [])
    return used
