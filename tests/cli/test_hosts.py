"""Which host `labelkeep start` prints, and which names its certificate must carry."""

from __future__ import annotations

import pytest

from labelkeep.cli import certificate_names, display_host

DEFAULT_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 (a --host value, bound by nothing here)


@pytest.mark.parametrize(
    ("bound", "allowed", "expected"),
    [
        ("127.0.0.1", DEFAULT_HOSTS, "localhost"),
        (EVERY_ADDRESS, ["*"], "localhost"),
        ("192.0.2.7", ["192.0.2.7", *DEFAULT_HOSTS], "192.0.2.7"),
        ("fd00::5", ["[fd00::5]"], "[fd00::5]"),
        # localhost would answer 400 (Host not allowed): the first concrete name instead.
        ("127.0.0.1", ["labels.example.com"], "labels.example.com"),
        (
            EVERY_ADDRESS,
            [".example.org", "*.example.net", "labels.example.com"],
            "labels.example.com",
        ),
        ("192.0.2.7", ["labels.example.com", "192.0.2.8"], "labels.example.com"),
        ("127.0.0.1", [".example.org"], "localhost"),  # nothing concrete to name
    ],
)
def test_display_host_is_one_the_server_answers_for(
    bound: str, allowed: list[str], expected: str
) -> None:
    assert display_host(bound, allowed) == expected


def test_certificate_names_cover_the_printed_host_allowed_names_and_loopback() -> None:
    wanted = ["192.0.2.7", "labels.example.com", ".example.org", "*", "[::1]", "Other.Example"]
    assert certificate_names("labels.example.com", wanted) == [
        "labels.example.com",
        "192.0.2.7",
        "::1",
        "other.example",
        "localhost",
        "127.0.0.1",
    ]
