"""The plain-HTTP redirector's choice of target host."""

from __future__ import annotations

import pytest

from labelkeep.redirect import fallback_host, target_host

ALLOWED = [".example.com", "labels.example.org", "127.0.0.1", "[::1]"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("labels.example.org", "labels.example.org"),
        ("labels.example.org:80", "labels.example.org"),
        ("sub.example.com", "sub.example.com"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("[::1]:80", "[::1]"),
        ("evil.example", "labels.example.org"),
        ("example.com.evil.example", "labels.example.org"),
        ("labels.example.org@evil.example", "labels.example.org"),
        ("", "labels.example.org"),
        ("bad host/../", "labels.example.org"),
    ],
)
def test_target_host(header: str, expected: str) -> None:
    assert target_host(header, ALLOWED) == expected


def test_fallback_skips_patterns() -> None:
    assert fallback_host([".example.com", "*"]) == "localhost"
    assert fallback_host(["*", "a.example"]) == "a.example"
