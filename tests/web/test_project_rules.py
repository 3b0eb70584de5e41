"""Rules that keep the project honest: docs generated from code, schema, settings."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from labelkeep import env
from labelkeep.accounts.roles import MATRIX, Perm, Role, has_perm, may_assign
from labelkeep.accounts.roles_doc import render

ROOT = Path(__file__).resolve().parents[2]


def test_roles_doc_matches_matrix() -> None:
    assert (ROOT / "docs" / "roles.md").read_text() == render(), "run `make roles-doc`"


def test_role_matrix_is_monotonic() -> None:
    order = [Role.ANNOTATOR, Role.REVIEWER, Role.MANAGER, Role.ADMIN, Role.OWNER]
    for lower, higher in itertools.pairwise(order):
        assert MATRIX[lower] <= MATRIX[higher]
    assert MATRIX[Role.DEACTIVATED] == frozenset()
    assert not has_perm(None, Perm.ORGANIZATION_VIEW)


def test_only_owners_touch_owners() -> None:
    assert may_assign(Role.OWNER, Role.ANNOTATOR, Role.OWNER)
    assert not may_assign(Role.ADMIN, Role.ANNOTATOR, Role.OWNER)
    assert not may_assign(Role.ADMIN, Role.OWNER, Role.ANNOTATOR)
    assert may_assign(Role.ADMIN, Role.ANNOTATOR, Role.ADMIN)
    assert not may_assign(Role.MANAGER, Role.ANNOTATOR, Role.REVIEWER)


def test_schema_documents_identity_endpoints(world: Any) -> None:
    response = world.member.client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/current-user/whoami", "/api/token/refresh", "/api/invite"):
        assert path in paths
    assert "/api/invite/" not in paths  # slash twins are documented once


def test_env_bool_rejects_ambiguous(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env.env_bool("X_FLAG", False)
    monkeypatch.setenv("X_FLAG", "Off")
    assert env.env_bool("X_FLAG", True) is False


def test_env_int_and_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_NUM", "12x")
    with pytest.raises(ImproperlyConfigured):
        env.env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured):
        env.env_int("X_NUM", 1, minimum=1)
    monkeypatch.setenv("X_LIST", " a, ,b ")
    assert env.env_list("X_LIST") == ["a", "b"]


def test_env_secret_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text("from-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env.env_secret("X_SECRET") == "from-file"
    monkeypatch.setenv("X_SECRET", "direct")
    with pytest.raises(ImproperlyConfigured):
        env.env_secret("X_SECRET")


def test_settings_refuse_missing_secret_key(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE")}
    clean.update(LABELKEEP_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="labelkeep.settings")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "No SECRET_KEY" in result.stderr


def test_api_docs_page_uses_bundled_script(world: Any) -> None:
    from django.test import Client

    client = Client()
    client.force_login(world.member.user)
    response = client.get("/docs/api/", secure=True)
    assert response.status_code == 200
    assert b"/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in response.content
    assert b"<script>" not in response.content  # no inline script
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    static = client.get(
        "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js", secure=True
    )
    assert static.status_code == 200
