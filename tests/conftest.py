"""Test-wide settings: property tests are derandomized, so every run (CI included) checks the
same examples and a failure reproduces; run with ``HYPOTHESIS_PROFILE=explore`` to search
new ones. No per-example deadline: the properties are about results, and on a loaded 2-core
machine a first example that compiles or warms a cache overran hypothesis's 200 ms default
(test_contacts' filter oracle: 349 ms, then 5 ms; speed is measured in bench/)."""

import os

from hypothesis import HealthCheck, settings

from tests.pg_server import postgres_server  # noqa: F401  (a fixture for every module)

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# CLI runs without --out keep finished runs in $OUTDIAL_CACHE_DIR: a fresh folder per test
# session, so tests neither read a user's cache nor leave runs in ~/.cache.
if "OUTDIAL_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["OUTDIAL_CACHE_DIR"] = tempfile.mkdtemp(prefix="outdial-test-cache-")
