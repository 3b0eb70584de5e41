"""Shared pieces of the import tests, and the file readers on their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labelkeep.dataio import formats
from labelkeep.dataio.formats import FormatError
from labelkeep.dataio.models import FileUpload
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, HttpsClient, World
from tests.tasks.conftest import CONFIG, choice

__all__ = ["choice"]


TEXT_CONFIG = CONFIG  # $text, Choices "sentiment": Positive / Negative / Neutral
IMAGE_CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image"><Label value="Cat"/></RectangleLabels>
</View>
"""


def make_project(world: World, config: str = TEXT_CONFIG) -> Project:
    """A project of Org A, made by the admin, with the member (an annotator) on it."""
    made = projects.create_project(
        world.org,
        {"title": "Import me", "label_config": config},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    projects.add_members(made, [world.member.user], actor=world.admin.user, origin=TEST_ORIGIN)
    return made


def use_uploads_root(settings: Any, tmp_path: Path) -> Path:
    """Uploads of this test only, so a test can see exactly which files are left."""
    root = tmp_path / "uploads"
    settings.UPLOADS_ROOT = root
    return root


def import_path(project: Project, query: str = "") -> str:
    return f"/api/projects/{project.pk}/import" + (f"?{query}" if query else "")


def post_json(client: HttpsClient, project: Project, body: Any, query: str = "") -> Any:
    return client.post(
        import_path(project, query), json.dumps(body), content_type="application/json"
    )


def post_files(
    client: HttpsClient, project: Project, files: dict[str, bytes], query: str = ""
) -> Any:
    given = [SimpleUploadedFile(name, content) for name, content in files.items()]
    return client.post(import_path(project, query), {"file": given}, format="multipart")


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def nothing_imported(project: Project, root: Path) -> bool:
    project.refresh_from_db()
    return (
        not Task.objects.filter(project=project).exists()
        and project.task_number == 0
        and not FileUpload.objects.filter(project=project).exists()
        and stored_files(root) == []
    )


# --- The readers ------------------------------------------------------------------------


def test_csv_header_gives_keys_and_quoted_newlines_survive() -> None:
    content = b'text,label\n"two\nlines",a\n\nplain,"b, c"\n'
    parsed = formats.read_table("f.csv", content, ".csv")
    assert parsed.items == [
        {"text": "two\nlines", "label": "a"},
        {"text": "plain", "label": "b, c"},
    ]
    assert parsed.where(1) == "f.csv, line 5"


def test_tsv_and_bom() -> None:
    parsed = formats.read_table("f.tsv", "\ufefftext\tn\nhello\t1\n".encode(), ".tsv")
    assert parsed.items == [{"text": "hello", "n": "1"}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"text,label\nok,1\nbad\nok,2\n", "f.csv, line 3: 1 values, but the header names 2"),
        (b"text,text\na,b\n", "names a column twice"),
        (b"text,\na,b\n", "every column of the header row needs a name"),
        (b"", "f.csv is empty"),
        (b"text\n\xff\xfe\n", "not UTF-8 text"),
    ],
)
def test_bad_tables_name_the_problem(content: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        formats.read_table("f.csv", content, ".csv")


def test_json_lines_and_text() -> None:
    parsed = formats.read_jsonl("f.jsonl", b'{"text": "a"}\n\n{"data": {"text": "b"}}\r\n')
    assert parsed.items == [{"text": "a"}, {"data": {"text": "b"}}]
    assert parsed.lines == [1, 3]
    with pytest.raises(FormatError, match=r"f\.jsonl, line 2: not valid JSON"):
        formats.read_jsonl("f.jsonl", b'{"text": "a"}\n{"text": \n')
    text = formats.read_txt("f.txt", b"one\r\n\r\ntwo\rthree", "body")
    assert text.items == [{"body": "one"}, {"body": "two"}, {"body": "three"}]


def test_json_refuses_nan_and_non_tasks() -> None:
    with pytest.raises(FormatError, match="not valid JSON"):
        formats.read_json("f.json", b'[{"x": NaN}]')
    with pytest.raises(FormatError, match="line 1, column 3"):
        formats.read_json("f.json", b"[{")
    with pytest.raises(FormatError, match="JSON array of tasks or one task object"):
        formats.read_json("f.json", b'"text"')
    assert formats.read_json("f.json", b'{"text": "a"}').items == [{"text": "a"}]


def test_extensions() -> None:
    assert formats.extension("a/b/Photo.JPG") == ".jpg"
    assert formats.extension("archive.tar.gz") == ".gz"
    assert formats.extension(".bashrc") == ""
    assert formats.extension("noext") == ""
