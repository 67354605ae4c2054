"""outdial: the thin front (CLI and report rendering) over sim, adapters, engine and pacer."""

__version__ = "0.1.0"
