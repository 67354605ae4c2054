"""The object every command receives through ``ctx.obj``: one terminal, one verbosity."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def write_error(exc: OSError, target: Path) -> str:
    """Why ``target`` (a file or folder being written) could not be: a part of its path
    that is a file where a folder must be is named (the OS says only "File exists" or "Not
    a directory"); else the OS's reason."""
    if isinstance(exc, FileExistsError | NotADirectoryError):
        for part in target.parents:
            if part.is_file():
                return f"{part} is a file, not a folder"
        if target.is_file() and isinstance(exc, FileExistsError):
            return f"{target} is a file, not a folder"
    return exc.strerror or str(exc)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (strict JSON has no NaN/inf)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# Width of the tables written to a file or a pipe (no terminal to fit, no COLUMNS set):
# wide enough that a comparison's rows stay one line each, as a log or a report reads them.
PIPE_WIDTH = 200


def _stdout_console() -> Console:
    """Results' console: the terminal's width, or ``PIPE_WIDTH`` columns when stdout is a
    file or a pipe and ``COLUMNS`` does not say otherwise."""
    con = Console(highlight=False, emoji=False)
    if not con.is_terminal and not os.environ.get("COLUMNS"):
        con.width = PIPE_WIDTH
    return con


@dataclass
class Application:
    """State shared by all commands. Results go to stdout; messages go to stderr.

    Verbosity: -1 (``--quiet``) shows only errors; 0 adds info and warnings; 1 and more
    (``-v``) add debug lines. ``info`` and ``debug`` accept rich markup; ``warn`` and
    ``fail`` print their text literally (user input such as ``[0, 1)`` stays intact).
    """

    verbosity: int = 0
    # emoji off: a path or name holding ":-1:" is printed as written, not as a thumb
    out: Console = field(default_factory=_stdout_console)
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False,
                                                         emoji=False))

    def write_outputs(self, out: Path | None, plots: bool,
                      tables: Callable[[Path], list[Path]],
                      figures: Callable[[Path], list[Path]]) -> None:
        """``tables(out)`` when ``--out`` is given, ``figures(folder)`` with ``--plots``
        (into ``out``, else ``./out``); every file written is reported."""
        if out is None and not plots:
            return
        target = out or Path("out")
        option = "--out" if out is not None else "--plots"
        written: list[Path] = []
        try:
            target.mkdir(parents=True, exist_ok=True)
            written += tables(out) if out is not None else []
            if plots:
                written += figures(target)
        except OSError as exc:
            done = f" (written before it: {', '.join(str(p) for p in written)})" if written \
                else ""
            self.fail(f"{option}: cannot write the results into {target}: "
                      f"{write_error(exc, target)}{done}")
        for p in written:
            self.info(f"wrote {p}")

    def info(self, message: str) -> None:
        """A line on stderr, unless ``--quiet``: printed as given (no markup) and never
        wrapped, so a long path stays one path."""
        if self.verbosity >= 0:
            self.err.print(escape(message), soft_wrap=True)

    def debug(self, message: str) -> None:
        if self.verbosity >= 1:
            self.err.print(f"[dim]{escape(message)}[/dim]")

    def warn(self, message: str) -> None:
        """A warning on stderr, unless ``--quiet``."""
        if self.verbosity >= 0:
            self.err.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)

    def fail(self, message: str, code: int = 2) -> NoReturn:
        """Print a user-facing error on one line (no traceback) and exit with ``code``.

        Raises:
            SystemExit: always, with ``code`` (2 = bad usage or input, by convention).
        """
        self.err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
        raise SystemExit(code)

    def print_json(self, payload: Any) -> None:
        """Write ``payload`` as strict JSON to stdout; NaN and infinities become ``null``."""
        text = json.dumps(json_safe(payload), indent=2, sort_keys=False, allow_nan=False)
        sys.stdout.write(text + "\n")

    def table(
        self,
        title: str,
        columns: list[str],
        rows: list[list[Any]],
        caption: str | None = None,
    ) -> None:
        """One rich table on stdout: first column left-aligned, the others right-aligned.
        Every text is printed literally: names from the scenario (``[/x]`` in a campaign
        name was a MarkupError) are data, not markup. A cell too wide for the terminal
        folds onto more lines: a name or a figure is never cut to an ellipsis."""
        t = Table(title=escape(title), caption=None if caption is None else escape(caption))
        for i, c in enumerate(columns):
            t.add_column(escape(c), justify="left" if i == 0 else "right", overflow="fold")
        for r in rows:
            t.add_row(*[escape(str(x)) for x in r])
        self.out.print(t)

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal
