"""A test certificate authority (trustme) and the TLS contexts the live tests use."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


class CertAuthority:
    """One CA per test; a server certificate for 127.0.0.1 / localhost."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def write(self, folder: Path) -> tuple[Path, Path, Path]:
        """(CA bundle, server cert chain, server key) as PEM files in ``folder``."""
        ca = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(ca))
        chain = folder / "server.pem"
        chain.write_bytes(b"".join(b.bytes() for b in self.cert.cert_chain_pems))
        key = folder / "server.key"
        self.cert.private_key_pem.write_to_path(str(key))
        return ca, chain, key
