"""TRUSTED_PROXIES is checked at start (labelkeep.E004), not at the first request."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings


def _e004(entries: list[str]) -> list[checks.CheckMessage]:
    with override_settings(TRUSTED_PROXIES=entries):
        return [message for message in checks.run_checks() if message.id == "labelkeep.E004"]


@pytest.mark.parametrize(
    ("entries", "refused"),
    [
        (["proxy.internal"], "'proxy.internal'"),
        (["192.0.2.1", "lb.example"], "'lb.example'"),
        (["10.0.0.1:8080"], "'10.0.0.1:8080'"),
        (["10.0.0.0/33"], "'10.0.0.0/33'"),
        (["[::1]"], "'[::1]'"),
    ],
)
def test_an_entry_that_is_not_an_address_or_network_fails_the_check(
    entries: list[str], refused: str
) -> None:
    errors = _e004(entries)
    assert len(errors) == 1
    assert refused in errors[0].msg
    assert "TRUSTED_PROXIES must list IP addresses or networks" in errors[0].msg
    assert errors[0].is_serious()


@pytest.mark.parametrize(
    "entries", [[], ["192.0.2.1"], ["10.0.0.0/8", "fd00::/8", "::1"], ["10.0.0.7/24"]]
)
def test_addresses_and_networks_pass(entries: list[str]) -> None:
    assert _e004(entries) == []
