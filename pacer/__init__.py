"""pacer: the numeric core of outdial (pacing kernels, estimators, license distribution).

The engine and the simulator call ``Pacer.decide`` once per tick; ``CampaignPacing`` is one
campaign's settings. Kernels live in flat modules as ``_``-prefixed numba functions, each
with a plain NumPy/Python reference in the tests.
"""

from pacer.decide import CampaignPacing, Pacer
from pacer.modes import AgentStatus, CallStatus, LicenseKind, Pacing, Regulation, Target
from pacer.warmup import warmup

__all__ = ["AgentStatus", "CallStatus", "CampaignPacing", "LicenseKind", "Pacer", "Pacing",
           "Regulation", "Target", "warmup"]
