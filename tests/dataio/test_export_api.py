"""The export endpoints: who may call them, parameters, filters, streaming, query counts, audit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext, override_settings

from labelkeep.audit.models import AuditEvent
from labelkeep.dataio.models import ExportSnapshot
from labelkeep.tasks.models import Prediction
from tests.conftest import World
from tests.dataio.test_export_support import (
    IMAGE_CONFIG,
    NER_CONFIG,
    TEXT_CONFIG,
    add_tasks,
    annotate,
    body,
    choice,
    export,
    exported_json,
    make_project,
)


@pytest.fixture
def project(world: World) -> Any:
    return make_project(world, TEXT_CONFIG)


@pytest.fixture
def ids(project: Any, world: World) -> list[int]:
    created = add_tasks(project, world, [{"text": f"t{n}"} for n in range(5)])
    annotate(created[1], choice("Positive"), world)
    annotate(created[3], choice("Negative"), world)
    return created


def _endpoints(project: Any, snapshot: ExportSnapshot) -> list[tuple[str, str]]:
    base = f"/api/projects/{project.pk}"
    one = f"{base}/exports/{snapshot.pk}"
    return [
        ("get", f"{base}/export"),
        ("get", f"{base}/export/formats"),
        ("get", f"{base}/exports/"),
        ("post", f"{base}/exports/"),
        ("get", one),
        ("delete", one),
        ("post", f"{one}/convert"),
        ("get", f"{one}/download"),
    ]


def test_permissions_on_every_endpoint(world: World, project: Any, anon: Any) -> None:
    snapshot = ExportSnapshot.objects.create(project=project, created_by=world.admin.user)
    for method, url in _endpoints(project, snapshot):
        for client, expected in (
            (anon, 401),
            (world.member.client, 403),
            (world.outsider.client, 404),
        ):
            response = (
                getattr(client, method)(url, {}, format="json")
                if method == "post"
                else (getattr(client, method)(url))
            )
            assert response.status_code == expected, (method, url, expected)
            assert response["Content-Type"] == "application/json"
    assert ExportSnapshot.objects.count() == 1  # nothing was created or deleted


def test_ids_beyond_64_bits_are_not_found(world: World, project: Any) -> None:
    snapshot = ExportSnapshot.objects.create(project=project, created_by=world.admin.user)
    huge = 2**64
    urls = [url.replace(f"/{project.pk}/", f"/{huge}/") for _, url in _endpoints(project, snapshot)]
    urls.append(f"/api/projects/{project.pk}/exports/{huge}")
    for url in urls:
        response = world.admin.client.get(url)
        assert response.status_code in (404, 405), url
        assert response["Content-Type"] == "application/json"
    assert world.admin.client.get(urls[0]).status_code == 404


def test_head_needs_the_permission_too(world: World, project: Any, ids: Any) -> None:
    url = f"/api/projects/{project.pk}/export"
    assert world.member.client.head(url).status_code == 403
    assert world.outsider.client.head(url).status_code == 404
    assert not AuditEvent.objects.filter(action="project.export").exists()


def test_head_answers_the_headers_without_exporting(world: World, project: Any, ids: Any) -> None:
    url = f"/api/projects/{project.pk}/export"
    with CaptureQueriesContext(connection) as queries:
        response = world.admin.client.head(f"{url}?export_type=CSV")
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Type"].startswith("text/csv")
    assert re.fullmatch(
        r'attachment; filename="project-\d+-at-[\w-]+-CSV\.csv"', response["Content-Disposition"]
    )
    assert not any("tasks_task" in q["sql"] for q in queries.captured_queries)
    # Nothing left the server, so nothing is audited as exported.
    assert not AuditEvent.objects.filter(action="project.export").exists()
    # The GET's refusals hold for HEAD as well.
    assert world.admin.client.head(f"{url}?export_type=COCO").status_code == 400
    assert world.admin.client.head(f"{url}?export_type=NOPE").status_code == 400


def test_both_slash_spellings_answer_without_redirects(
    world: World, project: Any, ids: Any
) -> None:
    snapshot = ExportSnapshot.objects.create(project=project, created_by=world.admin.user)
    for method, url in _endpoints(project, snapshot):
        if method != "get" or url.endswith("download"):
            continue
        for spelling in (url.rstrip("/"), url.rstrip("/") + "/"):
            response = world.admin.client.get(spelling)
            assert response.status_code == 200, spelling


def test_formats_list_marks_what_does_not_fit(world: World, project: Any) -> None:
    formats = world.admin.client.get(f"/api/projects/{project.pk}/export/formats").json()
    by_name = {f["name"]: f for f in formats}
    assert {"JSON", "JSON_MIN", "CSV", "TSV", "CONLL2003", "COCO", "YOLO", "VOC"} <= set(by_name)
    enabled = [f["name"] for f in formats if not f.get("disabled")]
    assert enabled == ["JSON", "JSON_MIN", "CSV", "TSV"]  # enabled ones first
    assert by_name["COCO"]["disabled"] is True and by_name["COCO"]["title"]
    ner = make_project(world, NER_CONFIG, "ner")
    names = world.admin.client.get(f"/api/projects/{ner.pk}/export/formats").json()
    assert "CONLL2003" in [f["name"] for f in names if not f.get("disabled")]
    image = make_project(world, IMAGE_CONFIG, "img")
    names = world.admin.client.get(f"/api/projects/{image.pk}/export/formats").json()
    fitting = {f["name"] for f in names if not f.get("disabled")}
    assert {"COCO", "YOLO", "VOC", "COCO_WITH_IMAGES"} <= fitting and "CONLL2003" not in fitting


def test_unfit_or_unknown_format_is_refused(world: World, project: Any, ids: Any) -> None:
    unfit = export(world.admin.client, project, "?export_type=COCO")
    assert unfit.status_code == 400 and "export/formats" in unfit.json()["detail"]
    unknown = export(world.admin.client, project, "?export_type=PDF")
    assert unknown.status_code == 400
    assert "export_type" in unknown.json()["validation_errors"]
    # "²" and a full-width "1" are digits to str.isdigit(), not ids.
    bad_ids = (
        "?ids=1,x",
        "?ids=-3",
        "?ids=0",
        "?ids=%C2%B2",
        "?ids=%EF%BC%91",
        "?ids=" + "1" * 5000,
    )
    for bad in ("?download_all_tasks=maybe", *bad_ids):
        assert export(world.admin.client, project, bad).status_code == 400, bad


def test_only_annotated_by_default(world: World, project: Any, ids: list[int]) -> None:
    assert [t["id"] for t in exported_json(world.admin.client, project)] == [ids[1], ids[3]]
    everything = exported_json(world.admin.client, project, "?download_all_tasks=true")
    assert [t["id"] for t in everything] == ids


def test_ids_in_every_spelling(world: World, project: Any, ids: list[int]) -> None:
    client = world.admin.client
    wanted = f"ids={ids[0]}&ids={ids[3]}&download_all_tasks=true"
    assert [t["id"] for t in exported_json(client, project, "?" + wanted)] == [ids[0], ids[3]]
    legacy = f"?ids[]={ids[4]}&ids[]={ids[2]}&download_all_tasks=1"
    assert [t["id"] for t in exported_json(client, project, legacy)] == [ids[2], ids[4]]
    commas = f"?ids={ids[3]},{ids[0]}"  # only annotated ones among them
    assert [t["id"] for t in exported_json(client, project, commas)] == [ids[3]]


def test_other_projects_tasks_never_leak(world: World, project: Any, ids: list[int]) -> None:
    other = make_project(world, TEXT_CONFIG, "other")
    (foreign,) = add_tasks(other, world, [{"text": "secret"}])
    annotate(foreign, choice("Positive"), world)
    found = exported_json(world.admin.client, project, f"?ids={foreign}&ids={ids[1]}")
    assert [t["id"] for t in found] == [ids[1]]


def test_response_streams_with_a_safe_attachment_name(world: World, project: Any, ids: Any) -> None:
    response = export(world.admin.client, project, "?exportType=JSON")
    assert isinstance(response, StreamingHttpResponse)
    disposition = response["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="project-\d+-at-[\w-]+-JSON\.json"', disposition)
    assert response["Content-Type"] == "application/json"
    assert body(response).startswith(b"[\n{")


def test_empty_export_is_an_empty_array(world: World, project: Any) -> None:
    assert exported_json(world.admin.client, project) == []


@override_settings(EXPORT_CHUNK_SIZE=10)
@pytest.mark.parametrize("export_type", ["JSON", "CSV", "JSON_MIN"])
def test_queries_grow_with_chunks_not_tasks(world: World, project: Any, export_type: str) -> None:
    def queries_for(count: int) -> int:
        made = add_tasks(project, world, [{"text": "x"}] * count)
        for task_id in made:
            annotate(task_id, choice("Positive"), world)
            Prediction.objects.create(task_id=task_id, project=project, result=[])
        with CaptureQueriesContext(connection) as captured:
            response = export(world.admin.client, project, f"?export_type={export_type}")
            body(response)
        return len(captured)

    base = queries_for(10)  # 10 tasks: one chunk
    grown = queries_for(90)  # 100 tasks: ten chunks
    # tasks, annotations, predictions, drafts (+ data keys)
    per_chunk = 5 if export_type == "CSV" else 4
    assert grown - base <= 9 * per_chunk + 1
    assert grown < 100


@override_settings(EXPORT_CHUNK_SIZE=10)
def test_chunk_reads_follow_the_task_index(world: World, project: Any) -> None:
    """Each chunk's annotations and predictions are read through their (task, id) index
    over the chunk's stretch. A `project_id` condition beside the chunk's task ids lets
    SQLite pick the (project, author, task) index instead and read every annotation of
    the project for every chunk (an export of 1M tasks went from 20 s to 3 minutes)."""
    for task_id in add_tasks(project, world, [{"text": "x"}] * 30):
        annotate(task_id, choice("Positive"), world)
        Prediction.objects.create(task_id=task_id, project=project, result=[])
    with CaptureQueriesContext(connection) as captured:
        body(export(world.admin.client, project, "?export_type=JSON"))
    chunked = ('SELECT "tasks_annotation".', 'SELECT "tasks_prediction".')
    reads = [q["sql"] for q in captured if q["sql"].startswith(chunked)]
    assert len(reads) == 6  # three chunks, annotations and predictions each
    for sql in reads:
        assert '"tasks_annotation"."project_id"' not in sql
        assert '"tasks_prediction"."project_id"' not in sql
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + sql.replace("%", "%%"))
                plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "annotation_author" not in plan
            assert "USING INDEX annotation_task" in plan or "prediction_task" in plan


def test_export_is_audited_with_format_and_counts(world: World, project: Any, ids: Any) -> None:
    export(world.admin.client, project, "?export_type=CSV&download_all_tasks=true")
    event = AuditEvent.objects.filter(action="project.export").latest("id")
    assert event.actor_id == world.admin.user.pk
    assert event.target_id == str(project.pk)
    assert event.details["format"] == "CSV"
    assert event.details["tasks"] == 5 and event.details["annotations"] == 2
    assert event.details["download_all_tasks"] is True
    assert event.ip_address == "127.0.0.1"


def test_managers_export_but_reviewers_do_not(world: World, project: Any, ids: Any) -> None:
    from labelkeep.accounts.roles import Role
    from tests.conftest import as_actor, make_user

    manager = as_actor(make_user("manager@a.example", org=world.org, role=Role.MANAGER))
    reviewer = as_actor(make_user("reviewer@a.example", org=world.org, role=Role.REVIEWER))
    assert export(manager.client, project).status_code == 200
    assert export(reviewer.client, project).status_code == 403


@override_settings(EXPORT_CHUNK_SIZE=10)
def test_chunks_cover_interleaved_and_sparse_ids(world: World, project: Any) -> None:
    other = make_project(world, TEXT_CONFIG, "other")
    mine: list[int] = []
    for size, theirs in ((3, 25), (17, 1), (1, 200), (24, 0)):
        mine += add_tasks(project, world, [{"text": "mine"}] * size)
        add_tasks(other, world, [{"text": "theirs"}] * theirs)
    for task_id in mine[::2]:
        annotate(task_id, choice("Positive"), world)
    everything = exported_json(world.admin.client, project, "?download_all_tasks=true")
    assert [t["id"] for t in everything] == mine
    annotated = exported_json(world.admin.client, project)
    assert [t["id"] for t in annotated] == mine[::2]
    assert all(len(t["annotations"]) == 1 for t in annotated)
