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
        checks.register(check_stale_after)


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


def check_stale_after(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """A live job must never look dead: several heartbeats fit in JOB_STALE_AFTER."""
    from django.conf import settings

    if settings.JOB_STALE_AFTER < 3 * settings.JOB_HEARTBEAT_INTERVAL:
        return [
            checks.Error(
                "JOB_STALE_AFTER must be at least three times JOB_HEARTBEAT_INTERVAL, or "
                "running jobs would be failed while their worker is alive.",
                id="labelkeep.E002",
            )
        ]
    return []
