"""Every environment variable the settings read is documented."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    source = (ROOT / "labelkeep" / "settings.py").read_text()
    names = set(re.findall(r'env_(?:str|bool|int|list|secret)\(\s*"([A-Z0-9_]+)"', source))
    names |= {f"DATABASE_{key.upper()}" for key in ("sslmode", "sslrootcert", "sslcert", "sslkey")}
    assert len(names) > 20
    documented = (ROOT / "docs" / "configuration.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in documented)
    assert not missing, f"undocumented settings: {missing}"
