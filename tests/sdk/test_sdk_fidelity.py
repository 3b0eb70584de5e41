"""End to end: answers parse into the SDK's models with the types the SDK declares.

Each test makes one SDK call whose answer once reached a script in another shape than the
SDK's model (and Label Studio) gives it, and reads the fields a script reads. `dumped`
also fails on any pydantic warning that a field came back in an undeclared shape.
"""

from __future__ import annotations

import pytest
from label_studio_sdk.types.import_api_request import ImportApiRequest

from tests.conftest import World
from tests.sdk.conftest import SdkFactory
from tests.sdk.test_sdk_labeling import dumped, new_project

pytestmark = pytest.mark.filterwarnings(
    # The SDK's label interface serializes regions with pydantic's deprecated `.dict()`.
    "ignore:The `dict` method is deprecated:DeprecationWarning"
)


def test_member_detail_names_the_user_by_id(world: World, sdk: SdkFactory) -> None:
    """`OrganizationMember.user` is the user's id, as Label Studio sends it, so a script
    can pass it on to `ls.users.get`."""
    ls = sdk(world.admin.key)
    member = ls.organizations.members.get(world.org.pk, world.member.user.pk)
    assert member.user == world.member.user.pk
    assert member.organization == world.org.pk
    assert dumped(member)["user"] == world.member.user.pk
    assert ls.users.get(member.user).email == "member@a.example"


def test_snapshot_creator_has_a_username(world: World, sdk: SdkFactory) -> None:
    """`created_by` of a snapshot is the SDK's `UserSimple`, whose `username` is required."""
    ls = sdk(world.owner.key)
    project = new_project(ls)
    created = ls.projects.exports.create(project, title="nightly")
    assert created.created_by is not None
    assert created.created_by.username == world.owner.user.username
    assert created.created_by.id == world.owner.user.pk
    assert created.id is not None
    for read in (ls.projects.exports.get(project, created.id), *ls.projects.exports.list(project)):
        assert read.created_by is not None
        assert dumped(read.created_by)["username"] == world.owner.user.username


def test_json_import_reports_found_formats_as_a_list(world: World, sdk: SdkFactory) -> None:
    """A JSON body reads no files: `found_formats` is an empty list, as Label Studio sends
    it and as the SDK's `ImportTasksProjectsResponse` declares it."""
    ls = sdk(world.owner.key)
    project = new_project(ls)
    answer = ls.projects.import_tasks(project, request=[ImportApiRequest(data={"text": "one"})])
    assert answer.task_count == 1
    assert answer.found_formats == []
    assert dumped(answer)["found_formats"] == []
