"""The stages of a partitioned run, in order, over a mailbox and a mapper.

A stage is a module function ``stage(box, i, ...)`` on partition (or bucket) ``i``: it
takes what earlier stages sent it from the mailbox, calls the core, puts what it sends,
and returns something small (counts, a few hashes). The caller gives

- ``box``: where frames wait between stages: :class:`MemoryBox` here (tests, one
  process), files on a shared disk in ``connectors.mailbox`` (a cluster);
- ``mapper(fn, calls)``: runs ``fn(*call)`` for each call, in any order or at once
  (in a loop, a thread pool, a Dask cluster's workers: ``flows.country_flow.Runner``),
  and returns the results in call order;
- per partition a loader: a picklable callable giving ``(raw frames, rejected rows)``
  of that partition's share of the sources (any share: records are sent where they
  belong).

The tables are the single process's (``reconcile.run`` and the ledger), however the run
is cut and wherever the stages run. Mail and states no later stage reads are discarded
as the run goes, so the box holds a few stages' worth at a time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from reconcile import spread as sp
from reconcile.discrepancies import DISCREPANCY_COLUMNS
from reconcile.discrepancies import classify as classify_rules
from reconcile.frames import sort_rows
from reconcile.match import PASS_SCORE, finish
from reconcile.match_scored import KNOWN_SAMPLE, assign, fit_counts, fit_from_counts, partition_levels, residual
from reconcile.match_scored import sample_candidates
from reconcile.pipeline import (Canonical, ParsedSources, Settings, finish_normalize, orphan_quarantine,
                                parse_sources, published_tables, track_ledger, unify_households)
from reconcile.rules import REPEATED_ID, RuleContext

BY_ID = ["household_no", "archive_no", "method", "score", "agreement", "member_name", "weights", "explanation",
         "ps_part", "ha_part"]
DISC_ORDER = ["rule", "county_code", "household_no", "archive_no", "field"]


class MemoryBox:
    """Frames between stages in this process's memory."""

    def __init__(self):
        self._mail: dict[tuple[str, int], dict[int, dict[str, pd.DataFrame]]] = {}

    def put(self, stage: str, outbox: dict[int, dict[str, pd.DataFrame]], src: int) -> None:
        for dest, frames in outbox.items():
            self._mail.setdefault((stage, dest), {})[src] = dict(frames)

    def take(self, stage: str, dest: int) -> list[dict[str, pd.DataFrame]]:
        got = self._mail.get((stage, dest), {})
        return [got[src] for src in sorted(got)]

    def discard(self, stage: str) -> None:
        """A stage's mail (or ``kept/NAME``, a state) no stage reads any more."""
        for key in [k for k in self._mail if k[0] == stage]:
            del self._mail[key]

    def keep(self, stage: str, part: int, frames: dict[str, pd.DataFrame]) -> None:
        """A partition's own state between its stages (apart from what was sent to it)."""
        self.put(f"kept/{stage}", {part: frames}, part)

    def kept(self, stage: str, part: int) -> dict[str, pd.DataFrame]:
        found = self.take(f"kept/{stage}", part)
        return found[0] if found else {}


def serial(fn, calls):
    """The simplest mapper: one call after the other."""
    return [fn(*c) for c in calls]


@dataclass
class SpreadSettings:
    settings: Settings
    specs: dict
    parts: int
    buckets: int
    groups: list[list[str]] = field(default_factory=list)  # counties each partition owns (may be empty)


# --- the stages, one partition (or bucket) per call ----------------------------------------------------

def read_part(box, i, loader, cfg: SpreadSettings):
    raw, rejected = loader()
    box.keep("raw", i, raw)
    box.keep("rejected", i, {s: pd.DataFrame(rows) for s, rows in (rejected or {}).items()})
    box.put("keys", sp.key_probe(raw, cfg.specs, i, cfg.buckets), i)


def dedup_bucket(box, b, cfg: SpreadSettings):
    box.put("repeated", sp.repeated_keys(box.take("keys", b)), b)


def parse_part(box, i, cfg: SpreadSettings) -> pd.Series:
    raw = box.kept("raw", i)
    rejected = {s: f.to_dict("records") for s, f in box.kept("rejected", i).items()}
    parsed = parse_sources(raw, cfg.specs, cfg.settings, rejected, sp.repeated_flags(raw, box.take("repeated", i)))
    box.keep("parsed", i, {"ps": parsed.ps, "ha": parsed.ha, "members": parsed.members,
                           "quarantine": pd.concat([q for q in parsed.quarantine if len(q)] or [parsed.quarantine[0]]),
                           "read": pd.DataFrame([parsed.rows_read])})
    return sp.county_counts(parsed.ps, parsed.ha)


def route_part(box, i, owners: dict[str, int], cfg: SpreadSettings):
    p = box.kept("parsed", i)
    to_owner, to_bucket = sp.send_records(p["ps"], p["ha"], p["members"], owners, i, cfg.buckets)
    box.put("records", to_owner, i)
    box.put("households", to_bucket, i)


def members_bucket(box, b, cfg: SpreadSettings):
    box.put("members", sp.members_home(box.take("households", b)), b)


def settle_part(box, i, cfg: SpreadSettings):
    """The partition's canonical records (its counties', their members), then its IDs out."""
    p, records, members = box.kept("parsed", i), box.take("records", i), box.take("members", i)
    ps, ha = sp.gather(records, "ps", p["ps"]), sp.gather(records, "ha", p["ha"])
    mem = sp.gather(members, "members", p["members"])
    quarantine = [p["quarantine"], orphan_quarantine(sp.gather(members, "orphans", p["members"]))]
    canon = finish_normalize(ParsedSources(ps, ha, mem, quarantine, p["read"].iloc[0].to_dict()),
                             orphan=pd.Series(False, index=mem.index))
    box.keep("canon", i, {"ps": canon.ps, "ha": canon.ha, "members": canon.members,
                          "quarantine": canon.quarantine, "read": p["read"]})
    box.put("ids", sp.id_probe(canon.ps, canon.ha, i, cfg.buckets), i)


def exact_bucket(box, b, cfg: SpreadSettings):
    box.put("exact", sp.exact_in_bucket(box.take("ids", b), PASS_SCORE["id_exact"]), b)


def member_probe_part(box, i, cfg: SpreadSettings):
    c, got = box.kept("canon", i), box.take("exact", i)
    exact = sp.gather(got, "exact", order=None)
    exact = exact if len(exact) else pd.DataFrame(columns=BY_ID)
    box.keep("exact", i, {"exact": exact, "repeated_ps": sp.gather(got, "repeated_ps", order=None),
                          "repeated_ha": sp.gather(got, "repeated_ha", order=None)})
    box.put("member_ids", sp.member_probe(c["ps"], c["ha"], c["members"], exact, i, cfg.buckets), i)


def member_bucket(box, b, cfg: SpreadSettings):
    box.put("member", sp.member_in_bucket(box.take("member_ids", b), PASS_SCORE["member_id"]), b)


def _no_discrepancies() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in DISCREPANCY_COLUMNS})


def _by_id(box, i) -> pd.DataFrame:
    e = box.kept("exact", i)
    member = sp.gather(box.take("member", i), "member", order=None)
    found = [f[BY_ID] for f in (e["exact"], member) if len(f)]
    out = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=BY_ID)
    return sort_rows(out, ["household_no", "archive_no"]).reset_index(drop=True)


def sample_part(box, i, cfg: SpreadSettings):
    """The partition's smallest hashes of known-pair candidates (a few hundred KB at most)."""
    c, by_id = box.kept("canon", i), _by_id(box, i)
    cands = sample_candidates(by_id, c["ps"], c["ha"])
    box.keep("by_id", i, {"by_id": by_id, "sample": cands})
    return cands["hash"].to_numpy(np.uint64)


def sample_ties_part(box, i, threshold: int, cfg: SpreadSettings) -> list[str]:
    cands = box.kept("by_id", i)["sample"]
    return cands.loc[cands["hash"].to_numpy(np.uint64) == np.uint64(threshold), "household_no"].tolist()


def candidates_part(box, i, cut: sp.SampleCut, cfg: SpreadSettings):
    got = box.kept("by_id", i)
    c, by_id = box.kept("canon", i), got["by_id"]
    res = residual(c["ps"], c["ha"], c["members"], by_id, cut.select(got["sample"]))
    cand = partition_levels(res)
    box.keep("candidates", i, {"candidates": cand})
    return fit_counts(res, [cand])


def assign_part(box, i, model, cfg: SpreadSettings):
    c, by_id = box.kept("canon", i), box.kept("by_id", i)["by_id"]
    scored = assign(box.kept("candidates", i)["candidates"], model)
    matched = finish(c["ps"], by_id[by_id["ps_part"] == i], scored)
    box.keep("matched", i, {"matches": matched.matches, "review": matched.review})
    # the DUPLICATE rule's flag travels with an archive record that moves to its household
    ha = sp.flag_repeated(c["ha"], "archive_no", box.kept("exact", i)["repeated_ha"])
    stay, moving = sp.send_matched_away(ha, by_id, i)
    box.keep("stay", i, {"ha": stay})
    box.put("moved", moving, i)


def classify_part(box, i, owners: dict[str, int], cfg: SpreadSettings):
    c, m, e = box.kept("canon", i), box.kept("matched", i), box.kept("exact", i)
    stay = box.kept("stay", i)["ha"]
    ha = pd.concat([stay, sp.gather(box.take("moved", i), "ha", stay)]).sort_values("_row", kind="stable",
                                                                                     ignore_index=True)
    ps = sp.flag_repeated(c["ps"], "household_no", e["repeated_ps"])
    ctx = RuleContext.build(ps, ha, c["members"], m["matches"], m["review"], cfg.settings.as_of,
                            cfg.settings.deadline)
    disc = classify_rules(ctx)
    box.keep("ha", i, {"ha": ha.drop(columns=REPEATED_ID)})
    box.put("disc", sp.send_discrepancies(disc, owners, i), i)


def ledger_probe_part(box, i, ledger_for: Callable, counties: list[str], cfg: SpreadSettings):
    """The discrepancies of the partition's counties, and their ledger so far."""
    disc = sp.gather(box.take("disc", i), "disc", order=None)
    if not len(disc):
        disc = _no_discrepancies().assign(_from=pd.Series(dtype="int64"))
    disc = sort_rows(disc, DISC_ORDER, na_position="first").reset_index(drop=True)
    earlier, today = ledger_for(counties)
    box.keep("ledger_in", i, {"disc": disc, "earlier": earlier, "today": today})
    box.put("ledger_ids", sp.ledger_probe(disc, earlier, today, i, cfg.buckets), i)


def ledger_owners_bucket(box, b, cfg: SpreadSettings):
    box.put("handover", sp.ledger_owners(box.take("ledger_ids", b)), b)


def handover_part(box, i, cfg: SpreadSettings):
    got = box.kept("ledger_in", i)
    earlier, today, out = sp.hand_over(got["earlier"], got["today"],
                                       sp.gather(box.take("handover", i), "handover", order=None))
    box.keep("ledger_own", i, {"earlier": earlier, "today": today})
    box.put("handed", out, i)


def ledger_part(box, i, run_id: str, people: pd.DataFrame | None, counties: list[str], cfg: SpreadSettings):
    disc, own, handed = box.kept("ledger_in", i)["disc"], box.kept("ledger_own", i), box.take("handed", i)
    earlier, today = ([f for f in [own[name], *(h[name] for h in handed if name in h)] if len(f)]
                      for name in ("earlier", "today"))
    earlier = pd.concat(earlier, ignore_index=True) if earlier else pd.DataFrame()
    today = pd.concat(today, ignore_index=True) if today else pd.DataFrame()
    tracked = track_ledger(disc, earlier, today, cfg.settings.as_of.isoformat(), run_id, counties, people=people)
    box.keep("ledger", i, {"ledger": tracked.ledger, "changes": tracked.changes})
    box.put("disc_back", sp.send_back(tracked.discrepancies), i)


def unify_part(box, i, cfg: SpreadSettings):
    c, m = box.kept("canon", i), box.kept("matched", i)
    disc = sp.gather(box.take("disc_back", i), "disc", order=None)
    disc = sort_rows(disc, DISC_ORDER, na_position="first").reset_index(drop=True) if len(disc) \
        else _no_discrepancies()
    canon = Canonical(c["ps"], c["members"], box.kept("ha", i)["ha"], c["quarantine"])
    if not len(canon.ps) and not len(canon.ha):  # a partition that owns no records publishes none
        box.keep("tables", i, {"quarantine": canon.quarantine} if len(canon.quarantine) else {})
        return
    unified, others = unify_households(canon, m["matches"], disc, cfg.settings)
    box.keep("tables", i, published_tables(canon, m["matches"], disc, unified, others))


# --- the run ---------------------------------------------------------------------------------------------

TABLE_ORDER = {"matches": ["household_no", "archive_no"], "discrepancies": DISC_ORDER, "unified": ["unified_id"],
               "quarantine": ["source", "row_number"], "other_groups": ["archive_no"], "records_ps": ["_row"],
               "records_ha": ["_row"], "ledger": ["discrepancy_id"]}


@dataclass
class SpreadRun:
    box: object
    parts: int
    owners: dict[str, int]   # county -> the partition that owns it
    model: object            # the run's FSModel (None: nothing to learn from)

    def part_tables(self, i: int) -> dict[str, pd.DataFrame]:
        """Partition ``i``'s share of each published table (rows in no particular order)."""
        return self.box.kept("tables", i)

    def table(self, name: str) -> pd.DataFrame:
        """One published table of the whole run, as the single process orders it (for tests
        and small runs: a national run writes each partition's share, ``part_tables``)."""
        frames = [t[name] for t in map(self.part_tables, range(self.parts)) if name in t]
        return order_table(name, pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True))

    def ledger(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(the run's ledger, what it changed), as the single process orders them."""
        got = [self.box.kept("ledger", i) for i in range(self.parts)]
        return tuple(order_table("ledger", pd.concat([g[k] for g in got], ignore_index=True))
                     for k in ("ledger", "changes"))


def order_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a published table in the single process's order (each order is total)."""
    return sort_rows(frame, TABLE_ORDER[name], na_position="first").reset_index(drop=True)


def _no_ledger(counties):
    return pd.DataFrame(), pd.DataFrame()


def _done(box, *stages: str) -> None:
    for stage in stages:
        box.discard(stage)


def run_spread(loaders: list, cfg: SpreadSettings, mapper=serial, box=None, *, run_id: str = "run",
               ledger_for: Callable = _no_ledger, ledger_counties: list[str] = (),
               people: pd.DataFrame | None = None) -> SpreadRun:
    """Every stage over ``cfg.parts`` partitions and ``cfg.buckets`` buckets of keys.

    ``ledger_for(counties)``: the ledger of those counties at the latest earlier date and
    what an earlier run today left (``track_ledger``'s ``earlier`` and ``today``);
    ``ledger_counties``: the counties those ledgers hold (each needs an owner, or its
    items could never be resolved); ``people``: the people's state of the 台账
    (``track_ledger``). The people's answers on REVIEW_MATCH pairs (``finish_match``'s
    ``decisions``) are not taken yet: a confirmed pair may span two partitions.
    """
    box = box if box is not None else MemoryBox()
    parts, bucket_ids = range(cfg.parts), range(cfg.buckets)
    mapper(read_part, [(box, i, loaders[i], cfg) for i in parts])
    mapper(dedup_bucket, [(box, b, cfg) for b in bucket_ids])
    _done(box, "keys")
    seen = mapper(parse_part, [(box, i, cfg) for i in parts])
    _done(box, "repeated", "kept/raw", "kept/rejected")
    groups = cfg.groups or [[] for _ in parts]
    owners = sp.county_owners(groups, [*seen, pd.Series(1, index=sorted(set(ledger_counties)), dtype="int64")])
    owners = {c: (o if o < cfg.parts else 0) for c, o in owners.items()}  # a county only the ledger knows
    mapper(route_part, [(box, i, owners, cfg) for i in parts])
    mapper(members_bucket, [(box, b, cfg) for b in bucket_ids])
    _done(box, "households")
    mapper(settle_part, [(box, i, cfg) for i in parts])
    _done(box, "records", "members", "kept/parsed")
    mapper(exact_bucket, [(box, b, cfg) for b in bucket_ids])
    _done(box, "ids")
    mapper(member_probe_part, [(box, i, cfg) for i in parts])
    _done(box, "exact")
    mapper(member_bucket, [(box, b, cfg) for b in bucket_ids])
    _done(box, "member_ids")
    cut = sp.sample_cut(mapper(sample_part, [(box, i, cfg) for i in parts]), KNOWN_SAMPLE)
    if cut.need_ties:  # households whose hashes are equal at the cut: the smallest numbers, as one process sorts
        tied = sorted(h for found in mapper(sample_ties_part, [(box, i, cut.threshold, cfg) for i in parts])
                      for h in found)
        cut = sp.SampleCut(cut.threshold, tuple(tied[:cut.need_ties]))
    model = fit_from_counts(mapper(candidates_part, [(box, i, cut, cfg) for i in parts]))
    mapper(assign_part, [(box, i, model, cfg) for i in parts])
    mapper(classify_part, [(box, i, owners, cfg) for i in parts])
    _done(box, "moved", "kept/stay", "kept/candidates", "kept/by_id", "member")
    owned = {i: sorted(c for c, o in owners.items() if o == i) for i in parts}
    mapper(ledger_probe_part, [(box, i, ledger_for, owned[i], cfg) for i in parts])
    mapper(ledger_owners_bucket, [(box, b, cfg) for b in bucket_ids])
    mapper(handover_part, [(box, i, cfg) for i in parts])
    mapper(ledger_part, [(box, i, run_id, people, owned[i], cfg) for i in parts])
    _done(box, "disc", "ledger_ids", "handover", "handed", "kept/ledger_in", "kept/ledger_own")
    mapper(unify_part, [(box, i, cfg) for i in parts])
    _done(box, "disc_back", "kept/matched", "kept/ha", "kept/exact")
    return SpreadRun(box, cfg.parts, owners, model)
