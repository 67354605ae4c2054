"""Compile (or load from numba's on-disk cache) every pacer kernel before the first decision.

A live engine calls ``warmup()`` once at start-up, so no pacing decision ever waits on a
compile: one ``Pacer.decide`` over a small batch holding every pacing mode, observations of
every kind, and the license and assignment kernels.
"""

from __future__ import annotations

import numpy as np

from pacer import assignment, licenses, predictive
from pacer.decide import CampaignPacing, Pacer
from pacer.modes import AgentStatus, CallStatus, Pacing, Regulation, Target


def warmup() -> None:
    """Compile every kernel for representative shapes (seconds on a cold cache, ms warm)."""
    predictive.warmup()
    licenses.warmup()
    assignment.warmup()
    campaigns = [CampaignPacing(pacing=Pacing.PREDICTIVE),
                 CampaignPacing(pacing=Pacing.PREDICTIVE, target=Target.SERVICE_LEVEL,
                                target_value=0.8, regulation=Regulation.OFCOM),
                 CampaignPacing(pacing=Pacing.PREDICTIVE, target=Target.AGENT_WAIT,
                                target_value=10.0),
                 CampaignPacing(pacing=Pacing.PROGRESSIVE),
                 CampaignPacing(pacing=Pacing.PREVIEW),
                 CampaignPacing(pacing=Pacing.FIXED_RATIO, ratio=1.5),
                 CampaignPacing(pacing=Pacing.VICIDIAL_TAPERED),
                 CampaignPacing(pacing=Pacing.TIMED, attempts_per_s=1.0, poisson_arrivals=True)]
    n = len(campaigns)
    p = Pacer(campaigns)
    agent_job = np.repeat(np.arange(n, dtype=np.int64), 3)
    agent_status = np.tile(np.array([AgentStatus.IDLE, AgentStatus.BUSY, AgentStatus.WRAP],
                                    dtype=np.int64), n)
    since = np.zeros(3 * n)
    call_job = np.arange(n, dtype=np.int64)
    call_status = np.full(n, CallStatus.RINGING, dtype=np.int64)
    t0 = np.zeros(n)
    for row in range(n):
        p.observe_dial(row, True, 8.0)
        p.observe_dial(row, False, 20.0)
        p.observe_handling(row, 200.0)
        p.observe_talk(row, 180.0)
        p.observe_wrap(row, 20.0)
        p.observe_live(row, 1.0, False)
        p.observe_live(row, 1.0, True)
        p.observe_machine(row, 1.0)
    for now in (0.0, 1.0, 16.0):
        p.decide(now, agent_job, agent_status, since, call_job, call_status, t0)
