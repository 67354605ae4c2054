"""The plain SimPy M/M/c model the dialer's busy hour is measured against.

Textbook SimPy: a Poisson arrival process, one process per customer holding a
``simpy.Resource`` of ``c`` servers for an exponential service time. Same size as the
60k-BHCC hour: c = 1000 servers, 60,000 calls in the hour, service mean chosen for about
90 % occupancy (1000 * 0.9 * 3600 / 60000 = 54 s).
"""

from __future__ import annotations

import numpy as np
import simpy


def mmc_hour(c: int = 1000, calls_per_hour: float = 60_000.0, service_mean_s: float = 54.0,
             hours: float = 1.0, seed: int = 1) -> dict:
    """Run the model; returns served calls, mean wait (s) and utilisation (0..1)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    n = int(calls_per_hour * hours * 1.2) + 100
    gaps = rng.exponential(3600.0 / calls_per_hour, n).tolist()
    services = rng.exponential(service_mean_s, n).tolist()
    stats = {"served": 0, "wait_s": 0.0, "busy_s": 0.0}

    def customer(i: int):
        t0 = env.now
        with servers.request() as req:
            yield req
            stats["wait_s"] += env.now - t0
            yield env.timeout(services[i])
            stats["busy_s"] += services[i]
            stats["served"] += 1

    def arrivals():
        for i in range(n):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(arrivals())
    env.run(until=hours * 3600.0)
    served = max(stats["served"], 1)
    return {"served": stats["served"], "wait_mean_s": stats["wait_s"] / served,
            "utilisation": stats["busy_s"] / (c * hours * 3600.0)}


def ciw_mmc_hour(c: int = 1000, calls_per_hour: float = 60_000.0, service_mean_s: float = 54.0,
                 hours: float = 1.0, seed: int = 1) -> dict:
    """The same M/M/c hour in Ciw (https://ciw.readthedocs.io), a queueing-network DES
    library; returns what ``mmc_hour`` returns. Ciw seeds Python's global ``random``."""
    import ciw

    ciw.seed(seed)
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=calls_per_hour / 3600.0)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / service_mean_s)],
        number_of_servers=[c])
    q = ciw.Simulation(net)
    q.simulate_until_max_time(hours * 3600.0)
    recs = q.get_all_records()
    served = max(len(recs), 1)
    return {"served": len(recs), "wait_mean_s": sum(r.waiting_time for r in recs) / served,
            "utilisation": sum(r.service_time for r in recs) / (c * hours * 3600.0)}
