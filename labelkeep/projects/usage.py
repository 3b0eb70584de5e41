"""Which labels existing annotations use, asked of the apps that store annotations.

Projects sit below tasks (DESIGN.md), so they cannot read annotations themselves; the
tasks app registers a provider when it loads.
"""

from __future__ import annotations

from collections.abc import Callable

from labelkeep.projects.models import Project

LabelUse = tuple[str, str, str]  # (control name, result type, label value)
Provider = Callable[[Project], set[LabelUse]]

_providers: list[Provider] = []


def register_label_usage(provider: Provider) -> Provider:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def labels_used_in_project(project: Project) -> set[LabelUse]:
    used: set[LabelUse] = set()
    for provider in _providers:
        used |= provider(project)
    return used
