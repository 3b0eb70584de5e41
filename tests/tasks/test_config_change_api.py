"""Changing a project's labeling config through the API never orphans existing work.

Each refusal is checked on PATCH api/projects/{id}/ and on POST api/projects/{id}/validate/:
a 400 naming what is in use, and the stored config left as it was.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, Actor, World
from tests.tasks.conftest import CONFIG, choice

NER = """
<View>
  <Labels name="label" toName="text">
    <Label value="Person"/>
    <Label value="Org"/>
  </Labels>
  <Text name="text" value="$text"/>
  <Relations>
    <Relation value="founded"/>
    <Relation value="works_at"/>
  </Relations>
</View>
"""


def _span(region_id: str, label: str, start: int) -> dict[str, Any]:
    value = {"start": start, "end": start + 4, "text": "name", "labels": [label]}
    return {
        "id": region_id,
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "value": value,
    }


FOUNDED = [
    _span("r1", "Person", 0),
    _span("r2", "Org", 10),
    {
        "from_id": "r1",
        "to_id": "r2",
        "type": "relation",
        "direction": "right",
        "labels": ["founded"],
    },
]


def _project(world: World, config: str, data: list[dict[str, Any]]) -> Project:
    made = projects.create_project(
        world.org,
        {"title": "P", "label_config": config},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    projects.add_members(made, [world.member.user], actor=world.admin.user, origin=TEST_ORIGIN)
    if data:
        items = [tasks.NewTask(data=d) for d in data]
        tasks.create_tasks(made, items, actor=world.admin.user, origin=TEST_ORIGIN)
    return made


def _annotate(world: World, project: Project, result: list[dict[str, Any]]) -> None:
    task = Task.objects.filter(project=project).order_by("id").first()
    assert task is not None
    response = world.member.client.post(
        f"/api/tasks/{task.pk}/annotations/", {"result": result}, format="json"
    )
    assert response.status_code == 201, response.content


def _patch(actor: Actor, project: Project, config: str) -> Any:
    return actor.client.patch(
        f"/api/projects/{project.pk}/", {"label_config": config}, format="json"
    )


def _validate(actor: Actor, project: Project, config: str) -> Any:
    return actor.client.post(
        f"/api/projects/{project.pk}/validate/", {"label_config": config}, format="json"
    )


def assert_refused(world: World, project: Project, config: str, *in_use: str) -> list[str]:
    """Both endpoints answer 400 naming each of `in_use`, and nothing changes."""
    before = Project.objects.get(pk=project.pk)
    messages: list[str] = []
    for response in (_validate(world.admin, project, config), _patch(world.admin, project, config)):
        assert response.status_code == 400, response.content
        messages = response.json()["validation_errors"]["label_config"]
        for name in in_use:
            assert any(f"'{name}'" in m or f": {name}" in m for m in messages), (name, messages)
    after = Project.objects.get(pk=project.pk)
    assert after.label_config == before.label_config
    assert after.parsed_label_config == before.parsed_label_config
    assert after.updated_at == before.updated_at
    return messages


def assert_accepted(world: World, project: Project, config: str) -> None:
    assert _validate(world.admin, project, config).status_code == 200
    response = _patch(world.admin, project, config)
    assert response.status_code == 200, response.content
    assert Project.objects.get(pk=project.pk).label_config == config


# --- 1. Relations ---------------------------------------------------------------------


def test_removing_a_relation_in_use_is_refused(world: World) -> None:
    project = _project(world, NER, [{"text": "Ada founded Acme"}])
    _annotate(world, project, FOUNDED)
    without_founded = NER.replace('<Relation value="founded"/>', "")
    messages = assert_refused(world, project, without_founded, "founded")
    assert messages == ["Relation label 'founded' is used by existing annotations"]
    no_relations = NER.replace('<Relation value="works_at"/>', "")
    no_relations = no_relations.replace('<Relation value="founded"/>', "")
    assert_refused(world, project, no_relations, "founded")


def test_removing_an_unused_relation_is_accepted(world: World) -> None:
    project = _project(world, NER, [{"text": "Ada founded Acme"}])
    _annotate(world, project, FOUNDED)
    assert_accepted(world, project, NER.replace('<Relation value="works_at"/>', ""))


# --- 2. Objects, toName and control types ---------------------------------------------


def test_renaming_an_object_in_use_is_refused(world: World, project: Project, task_ids) -> None:
    _annotate(world, project, choice("Positive"))
    renamed = CONFIG.replace('name="text"', 'name="body"').replace('toName="text"', 'toName="body"')
    messages = assert_refused(world, project, renamed, "text")
    assert messages == ["Object 'text' of control 'sentiment' is used by existing annotations"]


def test_pointing_a_control_elsewhere_is_refused(world: World) -> None:
    two_texts = CONFIG.replace(
        '<Text name="text" value="$text"/>',
        '<Text name="text" value="$text"/><Text name="title" value="$title"/>',
    )
    project = _project(world, two_texts, [{"text": "a", "title": "b"}])
    _annotate(world, project, choice("Negative"))
    retargeted = two_texts.replace('toName="text"', 'toName="title"')
    assert_refused(world, project, retargeted, "text", "sentiment")
    # Adding a second target keeps the first: accepted.
    assert_accepted(world, project, two_texts.replace('toName="text"', 'toName="text,title"'))


def test_changing_a_control_type_is_refused(world: World, project: Project, task_ids) -> None:
    _annotate(world, project, choice("Neutral"))
    as_labels = (
        CONFIG.replace("<Choices", "<Labels")
        .replace("</Choices>", "</Labels>")
        .replace("<Choice ", "<Label ")
        .replace(' choice="single"', "")
    )
    messages = assert_refused(world, project, as_labels, "sentiment")
    assert "'choices' results" in messages[0]


def test_removing_a_control_or_label_in_use_is_refused(
    world: World, project: Project, task_ids
) -> None:
    _annotate(world, project, choice("Negative"))
    assert_refused(world, project, CONFIG.replace('<Choice value="Negative"/>', ""), "Negative")
    only_text = '<View><Text name="text" value="$text"/></View>'
    assert_refused(world, project, only_text, "sentiment")


# --- 3. The check and the write are one locked transaction ----------------------------


def test_the_check_reads_the_stored_config_not_the_callers_copy(
    world: World, project: Project, task_ids
) -> None:
    stale = Project.objects.get(pk=project.pk)  # loaded before the change below
    with_mixed = CONFIG.replace('<Choice value="Neutral"/>', '<Choice value="Mixed"/>')
    assert_accepted(world, project, with_mixed)
    _annotate(world, project, choice("Mixed"))
    # The stale copy still holds CONFIG, which has no "Mixed": compared with it, going back
    # to CONFIG would look like a change that removes nothing.
    with pytest.raises(projects.ProjectError, match="Mixed"):
        projects.update_project(
            stale, {"label_config": CONFIG}, actor=world.admin.user, origin=TEST_ORIGIN
        )
    assert Project.objects.get(pk=project.pk).label_config == with_mixed


def test_the_check_runs_inside_the_writing_transaction(
    world: World, project: Project, task_ids
) -> None:
    _annotate(world, project, choice("Positive"))
    without_neutral = CONFIG.replace('<Choice value="Neutral"/>', "")
    with CaptureQueriesContext(connection) as queries:
        assert _patch(world.admin, project, without_neutral).status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    scan = next(i for i, s in enumerate(sql) if 'FROM "tasks_annotation"' in s)
    locked = max(i for i, s in enumerate(sql[:scan]) if 'FROM "projects_project"' in s)
    begin = max(i for i, s in enumerate(sql[:locked]) if s.startswith("SAVEPOINT"))
    write = next(i for i, s in enumerate(sql) if s.startswith('UPDATE "projects_project"'))
    end = next(i for i, s in enumerate(sql) if s.startswith("RELEASE SAVEPOINT") and i > begin)
    assert begin < locked < scan < write < end
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in sql[locked]


# --- 4. Bounded reading ---------------------------------------------------------------


def _checking(queries: CaptureQueriesContext) -> list[str]:
    """The statements of a config change, without the answer's project counts (one
    statement of subqueries that count on indexes, tasks/project_counts.py)."""
    return [q["sql"] for q in queries.captured_queries if 'AS "kept_ground_truth"' not in q["sql"]]


def test_a_change_that_removes_nothing_reads_no_annotations(
    world: World, project: Project, task_ids
) -> None:
    _annotate(world, project, choice("Positive"))
    more = CONFIG.replace(
        '<Choice value="Neutral"/>', '<Choice value="Neutral"/><Choice value="Mixed"/>'
    )
    with CaptureQueriesContext(connection) as queries:
        assert _patch(world.admin, project, more).status_code == 200
    assert not any('"tasks_annotation"' in sql for sql in _checking(queries))


def test_only_results_mentioning_removed_names_are_read(
    world: World, project: Project, task_ids
) -> None:
    _annotate(world, project, choice("Positive"))
    without_neutral = CONFIG.replace('<Choice value="Neutral"/>', "")
    with CaptureQueriesContext(connection) as queries:
        assert _patch(world.admin, project, without_neutral).status_code == 200
    scans = [sql for sql in _checking(queries) if 'FROM "tasks_annotation"' in sql]
    assert len(scans) == 1
    assert "LIKE" in scans[0]
    assert "Neutral" in scans[0]


def test_predictions_do_not_hold_a_config(world: World, project: Project, task_ids) -> None:
    """Label Studio checks annotations only; predictions are a model's, made again at will."""
    task = Task.objects.get(pk=task_ids[0])
    tasks.create_predictions(
        project, [(task, {"result": choice("Neutral")})], actor=world.admin.user, origin=TEST_ORIGIN
    )
    assert_accepted(world, project, CONFIG.replace('<Choice value="Neutral"/>', ""))


# --- 5. Task data keys ----------------------------------------------------------------


def test_reading_a_key_the_tasks_lack_is_refused(world: World, project: Project, task_ids) -> None:
    body = CONFIG.replace('value="$text"', 'value="$body"')
    messages = assert_refused(world, project, body, "body")
    assert messages[0] == "These fields are not present in the data: body"
    assert f"task {task_ids[0]} has only: text" in messages[1]


def test_data_keys_are_checked_in_value_lists_and_at_the_top_level(world: World) -> None:
    images = (
        '<View><Image name="img" value="$image"/>'
        '<Choices name="c" toName="img"><Choice value="a"/></Choices></View>'
    )
    project = _project(world, images, [{"image": "/a.png", "meta": {"url": "/b.png"}}])
    gallery = images.replace('value="$image"', 'valueList="$pages"')
    assert_refused(world, project, gallery, "pages")
    # Nested references name the top-level key, which the tasks have.
    assert_accepted(world, project, images.replace('value="$image"', 'value="$meta.url"'))


def test_keys_the_old_config_read_are_not_checked_again(world: World) -> None:
    two = '<View><Text name="a" value="$a"/><Text name="b" value="$b"/></View>'
    project = _project(world, "<View></View>", [{"a": "only a"}])
    # The task predates any config reading $b; a change that does not add $b is not refused
    # for it, but one that adds it is.
    assert_refused(world, project, two, "b")
    Project.objects.filter(pk=project.pk).update(label_config=two)
    assert_accepted(world, project, two.replace('name="a"', 'name="first"'))


def test_any_key_goes_without_tasks(world: World) -> None:
    project = _project(world, CONFIG, [])
    assert_accepted(world, project, CONFIG.replace('value="$text"', 'value="$body"'))


# --- Acceptance -----------------------------------------------------------------------


def test_a_change_that_removes_nothing_in_use_is_accepted(world: World) -> None:
    project = _project(world, NER, [{"text": "Ada founded Acme", "title": "News"}])
    _annotate(world, project, FOUNDED)
    new = (
        NER.replace('<Relation value="works_at"/>', '<Relation value="owns"/>')
        .replace(
            '<Text name="text" value="$text"/>',
            '<Text name="text" value="$text"/><Text name="title" value="$title"/>',
        )
        .replace('<Label value="Org"/>', '<Label value="Org"/><Label value="Place"/>')
        .replace("</View>", '<TextArea name="notes" toName="text"/></View>')
    )
    assert_accepted(world, project, new)
    parsed = world.admin.client.get(f"/api/projects/{project.pk}/").json()["parsed_label_config"]
    assert parsed["label"]["labels"] == ["Person", "Org", "Place"]
    assert "notes" in parsed


def test_outsiders_and_annotators_cannot_change_or_validate(
    world: World, project: Project, task_ids
) -> None:
    changed = CONFIG.replace('<Choice value="Neutral"/>', "")
    assert _patch(world.outsider, project, changed).status_code == 404
    assert _validate(world.outsider, project, changed).status_code == 404
    assert _patch(world.member, project, changed).status_code == 403
    assert _validate(world.member, project, changed).status_code == 403
    assert Project.objects.get(pk=project.pk).label_config == CONFIG


# --- Taxonomy branches -------------------------------------------------------------------

TAXONOMY = """
<View>
  <Text name="text" value="$text"/>
  <Taxonomy name="kind" toName="text">
    <Choice value="Animal">
      <Choice value="Cat"/>
      <Choice value="Dog"/>
    </Choice>
    <Choice value="Plant" alias="plant">
      <Choice value="Tree"/>
      <Choice value="Other"/>
    </Choice>
    <Choice value="Pet"/>
  </Taxonomy>
</View>
"""
CAT_IS_A_PET = TAXONOMY.replace('      <Choice value="Cat"/>\n', "").replace(
    '<Choice value="Pet"/>', '<Choice value="Pet"><Choice value="Cat"/></Choice>'
)


def _kind(*paths: list[str]) -> list[dict[str, Any]]:
    value = {"taxonomy": [list(path) for path in paths]}
    return [{"from_name": "kind", "to_name": "text", "type": "taxonomy", "value": value}]


def test_moving_a_branch_in_use_is_refused(world: World) -> None:
    project = _project(world, TAXONOMY, [{"text": "a cat"}])
    _annotate(world, project, _kind(["Animal", "Cat"], ["plant", "Other"]))
    messages = assert_refused(world, project, CAT_IS_A_PET, "Animal / Cat")
    assert messages == [
        "Taxonomy path 'Animal / Cat' of control 'kind' is used by existing annotations"
    ]
    # A parent moved under another carries the whole branch with it.
    plant_under_pet = TAXONOMY.replace(
        '<Choice value="Pet"/>',
        '<Choice value="Pet"><Choice value="Plant" alias="plant">'
        '<Choice value="Tree"/><Choice value="Other"/></Choice></Choice>',
    )
    plant_under_pet = plant_under_pet.replace(
        '    <Choice value="Plant" alias="plant">\n      <Choice value="Tree"/>\n'
        '      <Choice value="Other"/>\n    </Choice>\n',
        "",
    )
    assert_refused(world, project, plant_under_pet, "plant")
    # Moving "Other" from one parent to another is refused too, even though an "Other"
    # could be a child of several branches.
    other_moved = TAXONOMY.replace('      <Choice value="Other"/>\n', "").replace(
        '<Choice value="Dog"/>', '<Choice value="Dog"/><Choice value="Other"/>'
    )
    assert_refused(world, project, other_moved, "plant / Other")


def test_moving_an_unused_branch_or_copying_one_is_accepted(world: World) -> None:
    project = _project(world, TAXONOMY, [{"text": "a dog"}])
    _annotate(world, project, _kind(["Animal", "Dog"]))
    assert_accepted(world, project, CAT_IS_A_PET)  # nobody chose Animal / Cat
    # Dog stays where it was and also appears under Pet: the stored path still fits.
    both = CAT_IS_A_PET.replace(
        '<Choice value="Pet"><Choice value="Cat"/>',
        '<Choice value="Pet"><Choice value="Cat"/><Choice value="Dog"/>',
    )
    assert_accepted(world, project, both)


def test_a_removed_node_is_named_as_a_label_not_a_path(world: World) -> None:
    project = _project(world, TAXONOMY, [{"text": "a cat"}])
    _annotate(world, project, _kind(["Animal", "Cat"]))
    messages = assert_refused(
        world, project, TAXONOMY.replace('      <Choice value="Cat"/>\n', ""), "Cat"
    )
    assert messages == ["Label 'Cat' of control 'kind' is used by existing annotations"]
