"""A run cut into partitions gives the single process's tables, whatever rows each
partition was given: archives matched by ID across counties, keys repeated across
partitions, IDs repeated across counties, members filed away from their household,
orphans (issue 21)."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

import reconcile as core
from reconcile.spread_plan import SpreadSettings, order_table, run_spread

AS_OF, NEXT = date(2020, 7, 31), date(2020, 8, 31)
TABLES = ("matches", "discrepancies", "unified", "quarantine", "other_groups", "records_ps", "records_ha")


class Rows:
    """A partition's loader: its share of each raw frame (picklable, as a cluster needs)."""

    def __init__(self, raw: dict[str, pd.DataFrame]):
        self.raw = raw

    def __call__(self):
        return self.raw, {}


@pytest.fixture(scope="module")
def hostile_raw(world_raw) -> dict[str, pd.DataFrame]:
    """The generated world with what only a national run sees."""
    rng = np.random.default_rng(3)
    ps, ha, members = (world_raw[k].copy() for k in ("ps_households", "ha_archive", "ps_members"))
    # six counties of two: each village to one of three counties of its own (both agencies alike)
    for frame in (ps, ha):
        vc = frame["village_code"]
        frame["village_code"] = vc.str[:4] + (vc.str[4:6].astype(int) + 10 * (vc.str[9:12].astype(int) % 3)
                                              ).astype(str).str.zfill(2) + vc.str[6:]
    counties = sorted(ps["village_code"].str[:6].dropna().unique())
    assert len(counties) == 6
    assert len(counties) >= 2
    other = {c: counties[(i + 1) % len(counties)] for i, c in enumerate(counties)}

    def elsewhere(codes: pd.Series) -> pd.Series:
        return codes.str[:6].map(other) + codes.str[6:]

    # archives filed in another county than their household: matched by ID across partitions
    moved = rng.choice(ha.index, 300, replace=False)
    ha.loc[moved, "village_code"] = elsewhere(ha.loc[moved, "village_code"])
    # a household number repeated in another county (the first row keeps it)
    twin = ps.iloc[[5, 40]].copy()
    twin["village_code"] = elsewhere(twin["village_code"])
    twin["_row"] = ps["_row"].max() + 1 + np.arange(len(twin))
    ps = pd.concat([ps, twin], ignore_index=True)
    # one ID in two counties' households (DUPLICATE across partitions)
    in_county = [ps.index[ps["village_code"].str[:6] == c] for c in counties[:2]]
    a, b = in_county[0][7], in_county[1][9]
    ps.loc[b, "householder_id"] = ps.loc[a, "householder_id"]
    # a county where no one has a usable ID: nothing there for the model to learn from, its
    # candidates still count in the fit
    for frame in (ps, ha):
        frame.loc[frame["village_code"].str[:6] == counties[-1], "householder_id"] = ""
    idless = ps.loc[ps["village_code"].str[:6] == counties[-1], "household_no"]
    members.loc[members["household_no"].isin(idless), "id_no"] = ""
    # roster rows of no household
    lost = members.iloc[:3].copy()
    lost["household_no"] = ["X1", "X2", "X3"]
    lost["_row"] = members["_row"].max() + 1 + np.arange(3)
    members = pd.concat([members, lost], ignore_index=True)
    return {"ps_households": ps, "ps_members": members, "ha_archive": ha}


def single(raw, specs, as_of, earlier=None):
    settings = core.Settings(as_of=as_of)
    canon = core.normalize(raw, specs, settings)
    matched = core.match(canon)
    disc = core.find_discrepancies(canon, matched, settings)
    tracked = core.track_ledger(disc, earlier if earlier is not None else pd.DataFrame(), pd.DataFrame(),
                                as_of.isoformat(), "run")
    unified, others = core.unify_households(canon, matched.matches, tracked.discrepancies, settings)
    tables = core.published_tables(canon, matched.matches, tracked.discrepancies, unified, others)
    return {k: order_table(k, v) for k, v in tables.items()}, tracked


class Ledger:
    def __init__(self, earlier):
        self.earlier = earlier

    def __call__(self, counties):
        e = self.earlier
        return (e[e["county_code"].isin(counties)] if len(e) else e), pd.DataFrame()


def spread(raw, specs, as_of, parts, seed, earlier=None, shares=None, buckets=None):
    rng = np.random.default_rng(seed)
    shares = shares or {k: rng.integers(0, parts, len(v)) for k, v in raw.items()}  # any row anywhere
    loaders = [Rows({k: v[shares[k] == i].reset_index(drop=True) for k, v in raw.items()}) for i in range(parts)]
    counties = sorted(raw["ps_households"]["village_code"].str[:6].dropna().unique())
    groups = [counties[i::parts] for i in range(parts)]
    earlier = earlier if earlier is not None else pd.DataFrame(columns=["county_code"])
    cfg = SpreadSettings(core.Settings(as_of=as_of), specs, parts=parts, buckets=buckets or parts + 1, groups=groups)
    return run_spread(loaders, cfg, ledger_for=Ledger(earlier),
                      ledger_counties=sorted(earlier["county_code"].dropna().unique()))


@pytest.mark.parametrize("parts,seed", [(1, 0), (3, 1), (4, 2), (6, 3)])  # 6: a county per partition
def test_any_cut_gives_the_single_process_tables(hostile_raw, specs, parts, seed):
    whole, tracked = single(hostile_raw, specs, AS_OF)
    assert (whole["quarantine"]["problem"] == "orphan").sum() == 3
    assert (whole["discrepancies"]["rule"] == "DUPLICATE").any()
    cross = whole["matches"].merge(whole["records_ha"][["archive_no", "county_code"]], on="archive_no")
    assert (cross["county_code_x"] != cross["county_code_y"]).sum() > 50  # matched across counties
    run = spread(hostile_raw, specs, AS_OF, parts, seed)
    for name in TABLES:
        pd.testing.assert_frame_equal(run.table(name), whole[name], obj=name)
    ledger, changes = run.ledger()
    pd.testing.assert_frame_equal(ledger, tracked.ledger.sort_values("discrepancy_id", ignore_index=True))
    pd.testing.assert_frame_equal(changes, tracked.changes.sort_values("discrepancy_id", ignore_index=True))


def test_partitions_with_one_source_or_nothing_and_empty_buckets(hostile_raw, specs):
    whole, tracked = single(hostile_raw, specs, AS_OF)
    shares = {"ps_households": np.zeros(len(hostile_raw["ps_households"]), dtype=int),   # all households in 0,
              "ha_archive": np.ones(len(hostile_raw["ha_archive"]), dtype=int),          # the archive in 1,
              "ps_members": np.full(len(hostile_raw["ps_members"]), 2)}                  # members in 2, 3 empty
    run = spread(hostile_raw, specs, AS_OF, 4, 0, shares=shares, buckets=40)
    for name in TABLES:
        pd.testing.assert_frame_equal(run.table(name), whole[name], obj=name)


def test_the_ledger_of_a_later_date_is_the_single_process_ledger(hostile_raw, specs):
    _, first = single(hostile_raw, specs, AS_OF)
    later = {k: v.copy() for k, v in hostile_raw.items()}
    later["ha_archive"] = later["ha_archive"].iloc[200:]  # some problems go away, some come
    # households that moved to another county since: their items are the same items
    ps = later["ps_households"]
    moved = ps.index[ps["village_code"].str[:6] == "520302"][:40]
    ps.loc[moved, "village_code"] = "520303" + ps.loc[moved, "village_code"].str[6:]
    whole, tracked = single(later, specs, NEXT, earlier=first.ledger)
    run = spread(later, specs, NEXT, 3, 5, earlier=first.ledger)
    assert set(tracked.ledger["status"]) >= {"resolved", "open", "new"}
    ledger, _ = run.ledger()
    pd.testing.assert_frame_equal(ledger, tracked.ledger.sort_values("discrepancy_id", ignore_index=True))
    for name in ("discrepancies", "unified"):
        pd.testing.assert_frame_equal(run.table(name), whole[name], obj=name)


def test_a_known_sample_smaller_than_the_candidates_is_the_single_process_sample(hostile_raw, specs, monkeypatch):
    import reconcile.match_scored as scored
    import reconcile.spread_plan as plan

    monkeypatch.setattr(scored, "KNOWN_SAMPLE", 150)  # the run has about 2,400 candidates
    monkeypatch.setattr(plan, "KNOWN_SAMPLE", 150)
    whole, _ = single(hostile_raw, specs, AS_OF)
    run = spread(hostile_raw, specs, AS_OF, 4, 7)
    pd.testing.assert_frame_equal(run.table("matches"), whole["matches"])


def test_households_tied_at_the_cut_are_taken_in_number_order():
    from reconcile.spread import SampleCut, sample_cut

    cut = sample_cut([np.array([1, 7, 7], dtype=np.uint64), np.array([7, 9], dtype=np.uint64)], 3)
    assert (cut.threshold, cut.need_ties) == (7, 2)
    cands = pd.DataFrame({"household_no": ["H3", "H1", "H2"], "hash": np.array([7, 7, 1], dtype=np.uint64)})
    picked = SampleCut(7, ("H1", "H2")).select(cands)
    assert picked["household_no"].tolist() == ["H1", "H2"]
