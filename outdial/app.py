"""The object every command receives through ``ctx.obj``: one terminal, one verbosity."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Application:
    """State shared by all commands. Results go to stdout; messages go to stderr."""

    verbosity: int = 0
    out: Console = field(default_factory=lambda: Console(highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    def info(self, message: str) -> None:
        if self.verbosity >= 0:
            self.err.print(message)

    def debug(self, message: str) -> None:
        if self.verbosity >= 1:
            self.err.print(f"[dim]{message}[/dim]")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {message}")

    def fail(self, message: str, code: int = 2) -> None:
        """Print a user-facing error (no traceback) and exit with ``code``."""
        self.err.print(f"[red]error:[/red] {message}", soft_wrap=True)
        raise SystemExit(code)

    def print_json(self, payload: Any) -> None:
        sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        t = Table(title=title)
        for i, c in enumerate(columns):
            t.add_column(c, justify="left" if i == 0 else "right")
        for r in rows:
            t.add_row(*[str(x) for x in r])
        self.out.print(t)

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal
