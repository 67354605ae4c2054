"""The ``outdial`` command: a root group that only registers one module per command.

Heavy imports (numba, simpy, polars) sit inside command bodies so ``outdial --help`` is instant.
"""

import click

from outdial.app import Application

OUT_OF_MEMORY = ("out of memory: the work needs more memory than this machine gives it; run "
                 "less at once (fewer jobs or copies, agents, records or --workers) or on a "
                 "larger machine")


class _Root(click.Group):
    """The root group: a command that runs out of memory ends with one clear line (a scenario
    inside every bound can still need more than a small machine has), not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MemoryError:
            app = ctx.obj if isinstance(ctx.obj, Application) else Application()
            app.fail(OUT_OF_MEMORY, code=1)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More detail on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.version_option(package_name="outdial")
@click.pass_context
def outdial(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Predictive dialer: size, simulate and compare pacing policies."""
    ctx.obj = Application(verbosity=-1 if quiet else verbose)


def _register() -> None:
    from outdial.cli import (
        compare,
        control,
        erlang,
        report,
        run,
        simulate,
        size,
        sweep,
        validate,
    )

    outdial.add_command(compare.compare)
    outdial.add_command(control.control)
    outdial.add_command(erlang.erlang)
    outdial.add_command(report.report)
    outdial.add_command(run.run)
    outdial.add_command(simulate.simulate)
    outdial.add_command(size.size)
    outdial.add_command(sweep.sweep)
    outdial.add_command(validate.validate)


_register()


def main() -> None:
    """Console-script entry point."""
    outdial(prog_name="outdial")
