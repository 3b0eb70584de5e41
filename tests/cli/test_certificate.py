"""The self-signed certificate in the data directory: made, kept, renewed, or left alone."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labelkeep.datadir import DataDirError, certificate

LOOPBACK = ["localhost", "127.0.0.1", "::1"]


def _write(
    data_dir: Path,
    *,
    names: list[str],
    days: int,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
) -> ec.EllipticCurvePrivateKey:
    """A certificate and its key where Labelkeep keeps its own pair, valid for `days` more;
    signed by `issuer_key` (another authority) when given, else by itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some CA")])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer_key else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(issuer_key or key, hashes.SHA256())
    )
    (data_dir / "tls-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (data_dir / "tls-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key


def _load(cert: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert.read_bytes())


def _names(cert: Path) -> set[str]:
    sans = _load(cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return ips | set(sans.get_values_for_type(x509.DNSName))


def test_first_use_creates_a_pair_naming_every_host(tmp_path: Path) -> None:
    cert, key, news = certificate(tmp_path, ["labels.example.com", "192.0.2.7", *LOOPBACK])
    assert news == f"Created a self-signed certificate: {cert}"
    assert _names(cert) == {"labels.example.com", "192.0.2.7", *LOOPBACK}
    assert key.stat().st_mode & 0o777 == 0o600


def test_a_pair_that_names_every_host_and_is_far_from_expiry_is_kept(tmp_path: Path) -> None:
    _write(tmp_path, names=["labels.example.com", *LOOPBACK], days=40)
    before = (tmp_path / "tls-cert.pem").read_bytes()
    cert, _, news = certificate(tmp_path, ["Labels.Example.com", "[::1]", "127.0.0.1"])
    assert news == ""
    assert cert.read_bytes() == before


@pytest.mark.parametrize("days", [-3, 0, 29])
def test_an_expired_or_expiring_certificate_is_renewed(tmp_path: Path, days: int) -> None:
    _write(tmp_path, names=LOOPBACK, days=days)
    old = _load(tmp_path / "tls-cert.pem")
    cert, key, news = certificate(tmp_path, LOOPBACK)
    assert news.startswith("Renewed the self-signed certificate (the old one expires ")
    new = _load(cert)
    assert new.fingerprint(hashes.SHA256()) != old.fingerprint(hashes.SHA256())
    assert new.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=300)
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert loaded.public_key() == new.public_key()


def test_a_host_the_certificate_does_not_name_renews_it(tmp_path: Path) -> None:
    _write(tmp_path, names=LOOPBACK, days=200)
    cert, _, news = certificate(tmp_path, ["labels.example.com", "10.1.2.3", *LOOPBACK])
    assert "(the old one does not name labels.example.com, 10.1.2.3)" in news
    assert _names(cert) == {"labels.example.com", "10.1.2.3", *LOOPBACK}


def test_a_key_that_does_not_match_the_certificate_renews_both(tmp_path: Path) -> None:
    _write(tmp_path, names=LOOPBACK, days=200)
    cert_bytes = (tmp_path / "tls-cert.pem").read_bytes()
    _write(tmp_path, names=LOOPBACK, days=200)  # a new key...
    (tmp_path / "tls-cert.pem").write_bytes(cert_bytes)  # ...beside the old certificate
    cert, key, news = certificate(tmp_path, LOOPBACK)
    assert "the key did not match it" in news
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert loaded.public_key() == _load(cert).public_key()


def test_a_certificate_an_authority_issued_is_never_replaced(tmp_path: Path) -> None:
    authority = ec.generate_private_key(ec.SECP256R1())
    _write(tmp_path, names=["old.example"], days=-3, issuer_key=authority)
    before = (tmp_path / "tls-cert.pem").read_bytes()
    cert, _, news = certificate(tmp_path, ["labels.example.com", *LOOPBACK])
    assert news == ""
    assert cert.read_bytes() == before


def test_an_unreadable_pair_is_refused_and_left_in_place(tmp_path: Path) -> None:
    (tmp_path / "tls-cert.pem").write_text("not a certificate")
    (tmp_path / "tls-key.pem").write_text("not a key")
    with pytest.raises(DataDirError, match="delete both to have a new self-signed pair"):
        certificate(tmp_path, LOOPBACK)
    assert (tmp_path / "tls-cert.pem").read_text() == "not a certificate"
