"""Every option of every ``outdial`` command is documented in README.md or docs/, and every
``outdial`` command line shown in a ```bash block names only options its command has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from outdial.cli import outdial

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    yield path, group
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def _options(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts}


def test_every_option_is_documented():
    text = "\n".join(p.read_text() for p in DOCS)
    missing = []
    for path, cmd in _commands(outdial):
        for opt in _options(cmd):
            if opt.startswith("--") and opt != "--help" and not re.search(
                    rf"{re.escape(opt)}(?![\w-])", text):
                missing.append(f"outdial {' '.join(path)} {opt}")
    assert not missing, f"options no doc mentions: {missing}"


def _bash_lines(text: str) -> list[str]:
    """The command lines of the ```bash blocks and of the indented blocks starting with
    ``outdial`` (continuations joined, comments dropped)."""
    out, block, cont = [], False, ""
    for line in text.splitlines():
        if line.startswith("```"):
            block = line.strip() == "```bash"
            continue
        indented = line.startswith("    ") and (cont or line.strip().startswith("outdial "))
        if not block and not indented:
            continue
        line = cont + line.split(" #", 1)[0].strip()
        cont = ""
        if line.endswith("\\"):
            cont = line[:-1] + " "
        elif line and not line.startswith("#"):
            out.append(line)
    return out


def test_documented_command_lines_name_real_commands_and_options():
    cmds = dict(_commands(outdial))
    seen, problems = 0, []
    for doc in DOCS:
        for line in _bash_lines(doc.read_text()):
            for part in line.split("&&"):
                words = shlex.split(part)
                if not words or words[0] != "outdial":
                    continue
                seen += 1
                path: tuple[str, ...] = ()
                for w in words[1:]:
                    if (*path, w) in cmds:
                        path = (*path, w)
                    else:
                        break
                if isinstance(cmds[path], click.Group) and path:
                    problems.append(f"{doc.name}: {part.strip()}: no subcommand")
                known = _options(cmds[path]) | {"-h", "--help"}
                for w in words[1 + len(path):]:
                    opt = w.split("=", 1)[0]
                    if opt.startswith("-") and opt not in known:
                        problems.append(f"{doc.name}: {part.strip()}: unknown option {opt}")
    assert seen >= 10  # the README's planner block alone has more
    assert not problems, "\n".join(problems)
