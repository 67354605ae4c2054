"""docs/pacer.md's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "pacer.md"


def test_the_embedding_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {})
    assert "launched per campaign" in capsys.readouterr().out


def test_every_public_method_of_the_pacer_is_in_the_doc():
    import inspect

    from pacer import Pacer

    text = DOC.read_text()
    methods = [n for n, f in inspect.getmembers(Pacer, inspect.isfunction)
               if not n.startswith("_")]
    assert "decide" in methods and "observe_wait" in methods
    missing = [n for n in methods if not re.search(rf"(?<!\w){n}\(", text)]
    assert not missing, f"docs/pacer.md does not describe Pacer.{missing}"
