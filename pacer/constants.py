"""Defaults and numeric tolerances, in one place.

Where a default comes from ``shared/DOMAIN.md`` the source is named beside it.
"""

# Regulation (FTC TSR safe harbor / FCC 47 CFR 64.1200; Ofcom persistent-misuse policy).
DEFAULT_ABANDON_LIMIT = 0.03  # fraction of live answers, both FCC and Ofcom
DEFAULT_CONNECT_WINDOW_S = 2.0  # seconds from live answer to agent before it is an abandon
FCC_WINDOW_S = 30 * 86400.0  # the 30-day period (or the whole campaign, if shorter)
OFCOM_WINDOW_S = 86400.0  # per campaign per 24 h
MIN_RING_NO_ANSWER_S = 15.0  # regulation: ring at least 15 s
DEFAULT_RING_NO_ANSWER_S = 20.0  # 15-18 s (Sytel) to 20-28 s elsewhere

# Vendors' defaults (Cisco UCCX; VICIdial).
DEFAULT_MAX_LINES_PER_AGENT = 3.0  # UCCX predictive max lines per agent
VICIDIAL_MAX_LEVEL = 3.0  # adaptive_maximum_level
VICIDIAL_DROPPED_PERCENTAGE = 3.0  # adaptive_dropped_percentage
VICIDIAL_SAMPLE_S = 1.0  # sample period
VICIDIAL_SAMPLES = 15  # samples averaged
VICIDIAL_RECALC_S = 15.0  # recalculation period
VICIDIAL_LAUNCH_S = 2.5  # launch loop period

# Cold start: right-party/contact rate 10-25 % of dials (DOMAIN.md, Traffic).
DEFAULT_INITIAL_HIT_RATE = 0.25
DEFAULT_TICK_S = 0.25  # engine tick (issue 3)

# Numerical tolerances (tests and kernels).
PROB_EPS = 1e-12  # probabilities below this are treated as zero
REL_TOL = 1e-9  # kernel vs reference, relative
ABS_TOL = 1e-12  # kernel vs reference, absolute
