from typing import Any

from django.apps import AppConfig
from django.core import checks


class JobsConfig(AppConfig):
    name = "labelkeep.jobs"
    label = "jobs"

    def ready(self) -> None:
        # Every process (web, worker, CLI) must know every job kind: enqueue() checks it.
        from labelkeep.jobs import registered  # noqa: F401

        checks.register(check_queue_backend)


def check_queue_backend(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse a task backend that would run jobs inside the web request."""
    from django.conf import settings

    backend = settings.TASKS["default"]["BACKEND"]
    if backend.endswith(("ImmediateBackend", "DummyBackend")):
        return [
            checks.Error(
                f"TASKS backend {backend} runs or drops jobs instead of queueing them.",
                id="labelkeep.E001",
            )
        ]
    return []
