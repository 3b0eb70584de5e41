"""Test settings: the production settings module with test-only environment values."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 60)
os.environ.setdefault("LABELKEEP_DATA_DIR", tempfile.mkdtemp(prefix="labelkeep-test-"))
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# No worker runs beside the test client: a snapshot request would wait for nothing.
# tests/server/test_exports.py checks the wait against the real server and its worker.
os.environ.setdefault("EXPORT_SNAPSHOT_WAIT", "0")

from labelkeep.settings import *  # noqa: F403
from labelkeep.settings import DATA_DIR, DATABASES

# Argon2 stays the algorithm; cheaper parameters keep hundreds of test accounts quick.
PASSWORD_HASHERS = ["tests.hashers.QuickArgon2PasswordHasher"]

if str(DATABASES["default"]["ENGINE"]).endswith("sqlite"):
    # A file, as in production (WAL, busy timeout), not shared-cache memory, whose table
    # locks fail at once: tests with real concurrent writers need the real behaviour.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
elif str(DATABASES["default"]["ENGINE"]).endswith("postgresql"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "labelkeep_test")}
