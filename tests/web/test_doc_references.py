"""What the documentation names exists: test files and tests given as proof, CLI options."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from labelkeep import cli

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "bench" / "README.md"]
# `tests/a/test_b.py`, `tests/a/test_*.py`, `tests/a/test_b.py::test_c`
TEST_REFERENCE = re.compile(r"\btests/[\w/]*?[\w*]+\.py(?:::\w+)?")


def test_named_test_files_and_tests_exist() -> None:
    missing, found = [], 0
    for page in PAGES:
        for reference in TEST_REFERENCE.findall(page.read_text(encoding="utf-8")):
            found += 1
            path, _, name = reference.partition("::")
            files = sorted(ROOT.glob(path))
            if not files:
                missing.append(f"{page.name}: {reference} (no such file)")
            elif name and not re.search(
                rf"^(?:async )?def {name}\(|^class {name}\b",
                files[0].read_text(encoding="utf-8"),
                re.MULTILINE,
            ):
                missing.append(f"{page.name}: {reference} (no such test)")
    assert found > 50
    assert not missing, "\n".join(missing)


def _options(command: str) -> set[str]:
    root = cli.parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return {
        option
        for action in sub.choices[command]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def test_start_and_worker_options_are_documented() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = sorted(
        f"{command} {option}"
        for command in ("start", "worker")
        for option in _options(command)
        if f"`{option}`" not in documented
    )
    assert not missing, f"options missing from docs/configuration.md: {missing}"
