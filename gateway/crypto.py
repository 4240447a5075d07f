"""The one module that touches ``cryptography``: development keys for now.

Development keys let a fresh clone sign and verify without real certificates.
They are written under ``certs/dev/`` (git-ignored) with owner-only permissions
and are never used when a real key is configured.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway import PROJECT_ROOT
from gateway.clock import utcnow

DEV_CERTS_DIR = PROJECT_ROOT / "certs" / "dev"


def ensure_dev_keys(directory: Path = DEV_CERTS_DIR, name: str = "gateway-dev") -> dict[str, str]:
    """Create an EC P-256 key and a self-signed certificate if absent or expiring; return their paths.

    A pair whose certificate ends within ``RENEW_BEFORE`` is replaced, so a
    development machine never runs on an expired certificate.
    """
    key_path = directory / f"{name}.key.pem"
    cert_path = directory / f"{name}.cert.pem"
    created = False
    if not key_path.exists() or not cert_path.exists() or _expiring(cert_path):
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        _write_private(key_path, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
        cert_path.write_bytes(_self_signed(key, name).public_bytes(serialization.Encoding.PEM))
        created = True
    return {"key": str(key_path), "certificate": str(cert_path), "created": str(created).lower()}


RENEW_BEFORE = timedelta(days=30)


def _expiring(cert_path: Path) -> bool:
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return certificate.not_valid_after_utc - utcnow() < RENEW_BEFORE


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _self_signed(key: ec.EllipticCurvePrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Development only"),
    ])
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
