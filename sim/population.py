"""The simulated campaigns' contacts: lists from files or synthetic, DNC lists, rules, flows.

Each campaign of a scenario gets an ``engine.flow.ContactFlow`` over its contact list, its
strategy and the run's rule engine, exactly as a live run would. The copies of one entry
(``copies = N``) split its ``contacts.file`` by rows, copy k the k-th share (as synthetic
copies have contacts of their own): each loaded the whole file, so every contact was
dialled by every copy, at the same time, over its caps. A campaign without a
``contacts.file`` gets a synthetic list: ``records`` contacts (0: chunks of
``SYNTHETIC_CHUNK`` made as the run needs them), ids ``<campaign>-<n>``, distinct phone
numbers or e-mail addresses, and time zones spread over the ``contacts.timezones``
weights by a low-discrepancy sequence (no random stream is used, so the answer model's
common random numbers are untouched).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import repeat

import numpy as np
import polars as pl

from engine.calendar import RunCalendar
from engine.contacts import LINE_COLUMN, ContactList, ListSpec, load_contacts
from engine.dnc import DncList, DncRegistry
from engine.flow import ContactFlow
from engine.rules import RuleEngine
from engine.strategy import PastAttempt
from sim.scenario import Campaign, Scenario

SYNTHETIC_CHUNK = 512
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_PHONE_BASE = 2_012_000_000  # +1 201 200 0000 onwards: 10-digit NANP numbers


def contact_spec(c: Campaign) -> ListSpec:
    ct = c.contacts
    assert ct is not None
    return ListSpec(addresses=ct.addresses, id=ct.id,
                    timezone=ct.timezone if ct.file is not None else "timezone",
                    default_timezone=ct.default_timezone,
                    default_country_code=ct.default_country_code,
                    attribute_types=ct.attribute_types)


def synthetic_chunk(c: Campaign, job: int, start: int, n: int) -> ContactList:
    """Contacts ``start .. start+n-1`` of campaign ``c``'s synthetic list."""
    ct = c.contacts
    assert ct is not None
    k = range(start, start + n)
    zones = [z for z, _ in ct.timezones]
    cum = np.cumsum([w for _, w in ct.timezones])
    frac = (np.arange(start, start + n) * _GOLDEN + job * 0.1) % 1.0
    which = np.minimum(np.searchsorted(cum / cum[-1], frac, side="right"), len(zones) - 1)
    # Plain Python builds the columns: a chunk per campaign is made before a run starts,
    # and polars' per-expression overhead would dominate lists of a few hundred strings.
    # Speed shortcut: ``map`` over str's ``__add__`` (``prefix + i``) builds them with no
    # Python step per contact (the busy hour makes 200 chunks of 512 before it starts).
    ks = list(map(str, k))
    prefix = f"{c.name}-"
    cols: dict[str, pl.Series] = {
        "id": pl.Series(list(map(prefix.__add__, ks)), dtype=pl.String),
        "timezone": pl.Series(list(map(zones.__getitem__, which.tolist())), dtype=pl.String),
        LINE_COLUMN: pl.Series(range(start + 1, start + n + 1), dtype=pl.Int64),
    }
    for col, kind in ct.addresses.items():
        if kind == "email":
            low = f"{c.name.lower()}-"
            emails = map(str.__add__, map(low.__add__, ks), repeat("@example.net"))
            cols[col] = pl.Series(list(emails), dtype=pl.String)
        else:
            num = (job * 10_000_019 + np.arange(start, start + n, dtype=np.int64) * 7_919
                   ) % 7_000_000_000 + _PHONE_BASE
            cols[col] = pl.Series(list(map("+1".__add__, map(str, num.tolist()))),
                                  dtype=pl.String)
    return ContactList(pl.DataFrame(cols), contact_spec(c), source=f"<synthetic {c.name}>")


def _campaign_list(c: Campaign, job: int
                   ) -> tuple[ContactList, Callable[[int], ContactList | None] | None]:
    ct = c.contacts
    assert ct is not None
    if ct.file is not None:
        return load_contacts(ct.file, contact_spec(c), ct.on_error), None
    if c.records:
        return synthetic_chunk(c, job, 0, c.records), None
    return (synthetic_chunk(c, job, 0, SYNTHETIC_CHUNK),
            lambda start: synthetic_chunk(c, job, start, SYNTHETIC_CHUNK))


def build_flows(scn: Scenario, camps: Sequence[Campaign]
                ) -> tuple[list[ContactFlow], RuleEngine]:
    """One contact flow per campaign (job index = position in ``camps``), sharing the
    contacts' histories and one rule engine with the run's DNC lists."""
    dnc = DncRegistry(
        _dnc(scn.dnc_files, "global"),
        {j: _dnc(c.contacts.dnc_files, c.name) for j, c in enumerate(camps)
         if c.contacts is not None and c.contacts.dnc_files},
        # a DNC entry written without a country code is a number of the campaign's country
        {j: c.contacts.default_country_code for j, c in enumerate(camps)
         if c.contacts is not None and c.contacts.default_country_code})
    rules = RuleEngine(dnc=dnc, job_configs={j: c.rules for j, c in enumerate(camps)
                                             if c.rules is not None})
    history: dict[str, list[PastAttempt]] = {}
    calendar = RunCalendar(scn.start)  # one clock: every job shares its windows' spans
    copies: dict[str, list[int]] = {}
    for j, c in enumerate(camps):
        copies.setdefault(c.template, []).append(j)
    shares: dict[int, ContactList] = {}  # copies of one entry split its contact file
    for jobs in copies.values():
        c = camps[jobs[0]]
        if len(jobs) > 1 and c.contacts is not None and c.contacts.file is not None:
            whole = load_contacts(c.contacts.file, contact_spec(c), c.contacts.on_error)
            shares.update(zip(jobs, whole.split(len(jobs)), strict=True))
    flows = []
    for j, c in enumerate(camps):
        assert c.strategy is not None and c.contacts is not None
        contacts, more = (shares[j], None) if j in shares else _campaign_list(c, j)
        flows.append(ContactFlow(j, c.name, contacts, c.strategy, rules, calendar,
                                 history=history, filter=c.contacts.filter,
                                 sort=c.contacts.sort, more=more,
                                 agent_guaranteed=c.pacing == "preview",
                                 arrivals="new_contacts_per_hour" in c.profile))
    return flows, rules


def _dnc(files: Sequence, name: str) -> DncList:
    out = DncList(name=name)
    for f in files:
        out.update(DncList.from_file(f))
    return out
