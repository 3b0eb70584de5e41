"""Uncertainty sampling in the label stream: the open task whose prediction (of the
project's model version, when it names one) has the lowest score comes first; tasks
without a scored prediction come after, by id; overlap, locks and skips as elsewhere."""

from __future__ import annotations

from typing import Any

from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks import services as tasks
from labelkeep.tasks import stream
from labelkeep.tasks.models import Task, TaskLock
from tests.conftest import TEST_ORIGIN, Actor, World
from tests.tasks.conftest import choice
from tests.tasks.test_stream_rules import annotate, annotator, change_project, make_project, next_id

UNCERTAINTY = Sampling.UNCERTAINTY.value


def predict(world: World, project: Project, scores: dict[int, Any], version: str = "") -> None:
    """One prediction per task: {task id: score}."""
    rows = [
        (
            Task.objects.get(pk=pk),
            {"result": choice("Positive"), "score": score, "model_version": version},
        )
        for pk, score in scores.items()
    ]
    tasks.create_predictions(project, rows, actor=world.admin.user, origin=TEST_ORIGIN)


def uncertain_project(world: World, count: int, **settings: Any) -> tuple[Project, list[int]]:
    return make_project(world, count, sampling=UNCERTAINTY, **settings)


def labeled_in_turn(world: World, project: Project, name: str) -> list[int]:
    """The ids a new annotator is given, labeling each, until nothing is left."""
    return labeled_in_turn_by(annotator(world, project, name), project)


def labeled_in_turn_by(member: Actor, project: Project) -> list[int]:
    given: list[int] = []
    while (pk := next_id(member, project)) is not None:
        assert pk not in given
        given.append(pk)
        annotate(member, pk)
    return given


def test_the_api_takes_uncertainty_sampling(world: World) -> None:
    project, _ = make_project(world, 1)
    change_project(world, project, sampling=UNCERTAINTY)
    body = world.admin.client.get(f"/api/projects/{project.pk}/").json()
    assert body["sampling"] == UNCERTAINTY
    created = world.admin.client.post(
        "/api/projects/",
        {"title": "U", "label_config": project.label_config, "sampling": UNCERTAINTY},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["sampling"] == UNCERTAINTY


def test_lowest_score_first_then_unscored_tasks_by_id(world: World) -> None:
    project, t = uncertain_project(world, 7)
    predict(world, project, {t[0]: 0.5, t[1]: 0.1, t[2]: 0.9, t[3]: 0.3, t[5]: None})
    # t[4] and t[6] have no prediction; t[5]'s has no score: they come last, by id.
    assert labeled_in_turn(world, project, "u") == [t[1], t[3], t[0], t[2], t[4], t[5], t[6]]


def test_a_task_counts_with_its_lowest_score_and_ties_go_by_id(world: World) -> None:
    project, t = uncertain_project(world, 4)
    predict(world, project, {t[0]: 0.4, t[1]: 0.4, t[2]: 0.8, t[3]: 0.2})
    predict(world, project, {t[2]: 0.05})  # a second prediction of t[2], lower
    assert labeled_in_turn(world, project, "u") == [t[2], t[3], t[0], t[1]]


def test_only_the_projects_model_version_counts(world: World) -> None:
    project, t = uncertain_project(world, 5, model_version="v2")
    predict(world, project, {t[0]: 0.9, t[1]: 0.1, t[2]: 0.5}, version="v2")
    # v1 scores would put t[3] and t[4] first; without a v2 score they are unscored.
    predict(world, project, {t[3]: 0.01, t[4]: 0.02, t[0]: 0.0}, version="v1")
    assert labeled_in_turn(world, project, "u") == [t[1], t[2], t[0], t[3], t[4]]


def test_without_a_model_version_any_prediction_counts(world: World) -> None:
    project, t = uncertain_project(world, 4)
    predict(world, project, {t[0]: 0.9, t[1]: 0.5}, version="v1")
    predict(world, project, {t[2]: 0.1, t[1]: 0.7}, version="v2")
    assert labeled_in_turn(world, project, "u") == [t[2], t[1], t[0], t[3]]
    # Naming a model version changes the order at once.
    other, o = uncertain_project(world, 4)
    predict(world, other, {o[0]: 0.9, o[1]: 0.5}, version="v1")
    predict(world, other, {o[2]: 0.1, o[1]: 0.7}, version="v2")
    change_project(world, other, model_version="v1")
    assert labeled_in_turn(world, other, "w") == [o[1], o[0], o[2], o[3]]


def test_others_locks_and_overlap_are_respected(world: World) -> None:
    project, t = uncertain_project(world, 4)
    predict(world, project, {t[0]: 0.4, t[1]: 0.3, t[2]: 0.2, t[3]: 0.1})
    a, b, c = (annotator(world, project, name) for name in "abc")
    assert next_id(a, project) == t[3]
    assert next_id(b, project) == t[2]  # t[3] is a's while a holds it
    assert next_id(a, project) == t[3]  # asking again: the same task
    assert next_id(c, project) == t[1]
    assert TaskLock.objects.filter(project=project).count() == 3
    annotate(a, t[3])
    assert next_id(a, project) == t[0]  # b and c hold the lower ones
    # With two annotations wanted, a task goes to two people before the next one.
    wide, w = uncertain_project(world, 3, maximum_annotations=2)
    predict(world, wide, {w[0]: 0.3, w[1]: 0.2, w[2]: 0.1})
    d, e, f = (annotator(world, wide, name) for name in "def")
    assert [next_id(d, wide), next_id(e, wide), next_id(f, wide)] == [w[2], w[2], w[1]]


def test_a_skipped_task_goes_to_others_never_back_to_the_skipper(world: World) -> None:
    project, t = uncertain_project(world, 3)
    predict(world, project, {t[0]: 0.3, t[1]: 0.1, t[2]: 0.2})
    a, b = annotator(world, project, "a"), annotator(world, project, "b")
    assert next_id(a, project) == t[1]
    annotate(a, t[1], skip=True)
    assert next_id(a, project) == t[2]
    annotate(a, t[2])
    assert next_id(a, project) == t[0]
    annotate(a, t[0])
    assert next_id(a, project) is None  # t[1] is still unlabeled, but a skipped it
    assert next_id(b, project) == t[1]  # and for b it is still the lowest


def test_new_predictions_below_the_place_come_next(world: World) -> None:
    """A person's place in the score order is remembered; predictions added later with a
    lower score are looked at on their next search, not skipped over."""
    project, t = uncertain_project(world, 6)
    predict(world, project, {t[0]: 0.5, t[1]: 0.6, t[2]: 0.7, t[3]: 0.8})
    a = annotator(world, project, "a")
    for expected in (t[0], t[1]):
        assert next_id(a, project) == expected
        annotate(a, expected)
    predict(world, project, {t[4]: 0.2, t[3]: 0.1})  # t[3] now counts as 0.1
    assert labeled_in_turn_by(a, project) == [t[3], t[4], t[2], t[5]]


def test_reopened_work_below_the_place_comes_back(world: World) -> None:
    project, t = uncertain_project(world, 4)
    predict(world, project, {t[0]: 0.1, t[1]: 0.2, t[2]: 0.3, t[3]: 0.4})
    a, b = annotator(world, project, "a"), annotator(world, project, "b")
    assert next_id(b, project) == t[0]
    annotate(b, t[0])
    assert next_id(a, project) == t[1]
    annotate(a, t[1])
    assert next_id(a, project) == t[2]  # a's place is past t[0] now
    annotate(a, t[2])
    # b's annotation of t[0] is deleted: t[0] needs work again, and scores lowest.
    annotation = b.client.get(f"/api/tasks/{t[0]}/annotations/").json()[0]["id"]
    assert world.admin.client.delete(f"/api/annotations/{annotation}/").status_code == 204
    assert next_id(a, project) == t[0]


def test_nothing_left_and_places_forgotten_when_the_project_changes(world: World) -> None:
    project, t = uncertain_project(world, 2)
    predict(world, project, {t[0]: 0.2, t[1]: 0.1}, version="v1")
    predict(world, project, {t[0]: 0.1, t[1]: 0.9}, version="v2")
    a = annotator(world, project, "a")
    change_project(world, project, model_version="v1")
    assert next_id(a, project) == t[1]
    stream.release(Task.objects.get(pk=t[1]), a.user)
    change_project(world, project, model_version="v2")
    assert next_id(a, project) == t[0]
    annotate(a, t[0])
    annotate(a, t[1])
    assert next_id(a, project) is None
