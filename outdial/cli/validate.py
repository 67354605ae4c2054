"""``outdial validate``: check a scenario file and explain every problem found."""

from __future__ import annotations

from pathlib import Path

import click

from outdial.app import Application


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a dotted scenario key (TOML value), as simulate does.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {valid, problems, warnings, ...} as JSON.")
@click.pass_obj
def validate(app: Application, scenario: Path, sets: tuple[str, ...], as_json: bool) -> None:
    """Check SCENARIO as simulate will run it (contact and DNC files read in full); exit 0
    when valid (warnings listed), 2 with every problem listed otherwise."""
    from outdial.cli._batch import overrides_from
    from sim.scenario import ScenarioError, load

    try:
        scn = load(scenario, overrides_from(app, None, sets))
    except ScenarioError as exc:
        if as_json:
            app.print_json({"file": str(scenario), "valid": False, "problems": exc.problems,
                            "warnings": []})
            raise SystemExit(2) from None
        app.fail(str(exc))
    by_channel: dict[str, int] = {}
    for c in scn.campaigns:
        by_channel[c.channel] = by_channel.get(c.channel, 0) + 1
    if as_json:
        app.print_json({"file": str(scenario), "valid": True, "problems": [],
                        "warnings": list(scn.warnings), "name": scn.name,
                        "jobs": len(scn.campaigns), "agents": scn.total_agents,
                        "ports": scn.ports, "jobs_by_channel": by_channel})
        return
    jobs = ", ".join(f"{n} {ch}" for ch, n in by_channel.items())
    extra = ""
    if scn.inbound:
        desks = sum(g.count for g in scn.agents if g.direction == "inbound")
        blended = sum(1 for c in scn.campaigns if c.blending is not None)
        extra += (f", {len(scn.inbound)} inbound skills ({desks} dedicated agents, "
                  f"{blended} blended jobs)")
    if scn.port_pool is not None:
        extra += f", {scn.port_pool} outbound ports licensed ({scn.license_mode})"
    app.out.print(f"{scenario}: valid — {scn.name}: {len(scn.campaigns)} jobs ({jobs}), "
                  f"{scn.total_agents} agents, {scn.ports} ports{extra}", markup=False,
                  soft_wrap=True)
    for w in scn.warnings:
        app.warn(w)
