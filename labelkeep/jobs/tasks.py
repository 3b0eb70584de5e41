"""The single queue task behind every job kind (django-tasks, database backend)."""

from __future__ import annotations

from django_tasks import task

from labelkeep.jobs import services


@task()
def run_job(job_id: int) -> None:
    services.execute(job_id)
