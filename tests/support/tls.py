"""Certificates for HTTPS test servers, made with the openssl command: a self-signed one for
127.0.0.1, and a CA with a server certificate it signed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """``(cert, key)`` files in ``folder``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
        *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        *("-keyout", str(key), "-out", str(cert)),
    )
    return cert, key


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A CA's ``(cert, key)``, with the extensions a strict verifier asks of a CA."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}-ca.pem", folder / f"{name}-ca.key"
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
        *("-subj", f"/CN={name} test CA", "-keyout", str(key), "-out", str(cert)),
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )
    return cert, key


def make_server_cert(
    folder: Path, ca: tuple[Path, Path], names: str = "IP:127.0.0.1,DNS:localhost"
) -> tuple[Path, Path]:
    """A server ``(cert, key)`` for ``names`` (a subjectAltName), signed by ``ca``."""
    cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    extensions = folder / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={names}\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _openssl(
        *("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"),
        *("-keyout", str(key), "-out", str(csr)),
    )
    _openssl(
        *("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1])),
        *("-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile", str(extensions)),
    )
    return cert, key
