"""Dependencies point one way (DESIGN.md): web → domain apps → audit → security."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "labelkeep"

# Lower layers never import higher ones; a package may import its own layer or below.
LAYERS = {
    "env": 0,
    "security": 0,
    "db": 0,
    "api": 1,
    "audit": 2,
    "accounts": 3,
    "jobs": 4,
    "projects": 5,
    "tasks": 6,
    "dataio": 7,
    "storages": 7,
    "web": 9,
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("labelkeep.")}


def test_layers_are_respected() -> None:
    wrong, scanned = [], 0
    for package, rank in LAYERS.items():
        for path in (PACKAGE / package).rglob("*.py") if (PACKAGE / package).is_dir() else []:
            scanned += 1
            for module in _imports(path):
                target = module.split(".")[1]
                if target in LAYERS and LAYERS[target] > rank:
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert scanned > 30
    assert not wrong, "\n".join(wrong)


def test_tasks_never_import_storages() -> None:
    tasks = PACKAGE / "tasks"
    for path in tasks.rglob("*.py") if tasks.is_dir() else []:
        assert not any(m.startswith("labelkeep.storages") for m in _imports(path)), path
