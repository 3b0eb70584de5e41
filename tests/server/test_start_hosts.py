"""`labelkeep start` with ALLOWED_HOSTS naming the real host: the printed addresses work."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.server.harness import RunningServer, running_server, trust

pytestmark = pytest.mark.server

PUBLIC = "labels.example.com"


def _get(server: RunningServer, url: str) -> httpx.Response:
    """GET `url` from the server on 127.0.0.1 as a browser that resolved its host would:
    that host in SNI (so verified against the certificate) and in the Host header."""
    parsed = httpx.URL(url)
    context: ssl.SSLContext = trust(server.cert)
    with httpx.Client(verify=context, timeout=15.0) as client:
        return client.get(
            f"https://127.0.0.1:{parsed.port}{parsed.raw_path.decode()}",
            headers={"Host": f"{parsed.host}:{parsed.port}"},
            extensions={"sni_hostname": parsed.host},
        )


def test_printed_addresses_name_an_allowed_host_and_the_certificate_is_renewed_for_it(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir, "--no-worker") as first:
        pass
    env = {"ALLOWED_HOSTS": f".example.org,{PUBLIC}"}
    with running_server(data_dir, "--no-worker", env=env) as second:
        output = second.stdout()
        assert f"Serving Labelkeep at https://{PUBLIC}:{second.port}/ " in output
        assert second.setup_url.startswith(f"https://{PUBLIC}:{second.port}/setup/"), output
        # Verified against the certificate for that name, and not refused by ALLOWED_HOSTS.
        assert _get(second, second.setup_url).status_code == 200
        served = ssl.get_server_certificate(("127.0.0.1", second.port), timeout=10)
    assert re.search(rf"^Renewed the self-signed certificate \(.*{PUBLIC}.*\): ", output, re.M)
    assert second.fingerprint != first.fingerprint
    cert = x509.load_pem_x509_certificate(served.encode("ascii"))
    assert cert.fingerprint(hashes.SHA256()).hex(":").upper() == second.fingerprint
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert PUBLIC in names.get_values_for_type(x509.DNSName)
