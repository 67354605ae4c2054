"""Running the ``outdial`` command line in this process, for the tests: ``cli`` returns
click's result (every argument turned to text, exceptions raised, not caught), ``cli_ok``
the same after checking the command succeeded, ``cli_json`` the object a ``--json`` run
printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from outdial.cli import outdial

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def cli(*args: Any, **kwargs: Any) -> Result:
    """``outdial ARGS...``; ``kwargs`` go to ``CliRunner.invoke`` (``input``, ``env``...)."""
    return CliRunner().invoke(outdial, [str(a) for a in args], catch_exceptions=False,
                              **kwargs)


def cli_ok(*args: Any, **kwargs: Any) -> Result:
    """``cli``, after checking the command succeeded (exit code 0; else its output)."""
    res = cli(*args, **kwargs)
    assert res.exit_code == 0, res.output
    return res


def cli_json(*args: Any) -> Any:
    """``outdial ARGS... --json``: the printed JSON, after checking the exit code is 0."""
    return json.loads(cli_ok(*args, "--json").stdout)
