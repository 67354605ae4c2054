"""The planner's experiments on the simulated world: where runs execute (``executors``),
what one run returns (``task``), finished runs kept on disk (``cache``), batches of runs
(``batch``), their aggregation into KPIs with intervals and verdicts (``stats``), and the
commands built on them (``compare``, ``sweep``, ``size``).

Nothing in ``sim``'s world modules imports this package; the package imports the world only
through ``sim.run.simulate`` and ``sim.scenario``.
"""
