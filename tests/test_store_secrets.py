"""No password in any message of the PostgreSQL store: connection strings and URLs in
every common spelling, with passwords holding ``@``, ``%``, quotes, spaces and
backslashes, against a port where no server listens and with strings libpq cannot
parse (its own parse errors quote the text around the fault)."""

from __future__ import annotations

import socket
import urllib.parse

import pytest

pytest.importorskip("psycopg")

from engine.store_postgres import PostgresStore, scrub
from engine.store_schema import StoreError

PASSWORDS = ["p@ss%w0rd", "it's\"q@%", "%41%40 sp ace", "back\\sl@sh", "a'b'c@d%e"]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kv(pw: str) -> str:
    return "'" + pw.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _forms(pw: str, port: int) -> list[str]:
    enc = urllib.parse.quote(pw, safe="")
    return [
        f"host=127.0.0.1 port={port} user=u password={_kv(pw)} dbname=d connect_timeout=2",
        f"password={_kv(pw)} host=127.0.0.1 port={port} connect_timeout=2",
        f"host=127.0.0.1 port={port} password = {_kv(pw)} connect_timeout=2",
        f"postgresql://u:{enc}@127.0.0.1:{port}/d?connect_timeout=2",
        f"postgres://u:{enc}@127.0.0.1:{port}/d?connect_timeout=2",
        f"postgresql://u@127.0.0.1:{port}/d?password={enc}&connect_timeout=2",
        f"postgresql://u:{urllib.parse.quote_plus(pw, safe='')}@127.0.0.1:{port}/d"
        "?connect_timeout=2",
        f"host=127.0.0.1 port={port} user=u password={pw} connect_timeout=2",  # unquoted
        f"postgresql://u:{pw}@127.0.0.1:{port}/d",  # not encoded
    ]


def _spellings(pw: str) -> set[str]:
    return {pw, urllib.parse.quote(pw, safe=""), urllib.parse.quote_plus(pw, safe=""),
            _kv(pw)} | {part for part in pw.replace("'", " ").replace('"', " ").split()
                        if len(part) >= 4}


@pytest.mark.parametrize("pw", PASSWORDS)
def test_no_password_spelling_in_any_connection_error(pw):
    port = _dead_port()
    for dsn in _forms(pw, port):
        with pytest.raises(StoreError) as e:
            PostgresStore(dsn)
        msg = str(e.value)
        leaked = [s for s in _spellings(pw) if s in msg]
        assert not leaked, (dsn, msg)


def test_password_from_the_environment_is_scrubbed_too(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "env@pw%'x")
    assert "env@pw" not in scrub("failed for env@pw%'x", "host=h")


def test_scrub_replaces_every_spelling():
    dsn = "postgresql://u:p%40ss%25@h/d"
    text = "a p@ss% b p%40ss%25 c"
    assert scrub(text, dsn) == "a *** b *** c"
