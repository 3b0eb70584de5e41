"""Random keys and the one-way hashes under which they are stored."""

from __future__ import annotations

import hashlib
import secrets


def new_key(nbytes: int = 20) -> str:
    """A random hex key (40 characters by default, like Label Studio's legacy tokens)."""
    return secrets.token_hex(nbytes)


def key_hash(key: str) -> str:
    """SHA-256 of a high-entropy key. No salt needed: keys are random, not chosen by people."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
