"""The evolving world: monthly snapshots and the truth of every alert."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anju_synth.evolve import RATES, evolve_months, parse_cells
from anju_synth.layout import HA_HEADERS, PS_HEADERS, _spell_dates, render
from anju_synth.scenario import build_world

MONTHS = [date(2020, 7, 31), date(2020, 8, 31), date(2020, 9, 30), date(2020, 10, 31)]
# higher than the defaults so that a small world sees every event every month
BUSY = {k: (v if k == "renovation_completed" else v * 3) for k, v in RATES.items()}


@pytest.fixture(scope="module")
def start_frames():
    return render(build_world(2000, seed=21), 21, as_text=True)


@pytest.fixture(scope="module")
def months(start_frames):
    return evolve_months(start_frames, MONTHS, seed=21, rates=BUSY)


@settings(max_examples=60, deadline=None)
@given(days=st.lists(st.integers(0, 20000), min_size=1, max_size=30), seed=st.integers(0, 2**16),
       as_text=st.booleans())
def test_date_cells_in_every_spelling_are_read_back(days, seed, as_text):
    d = pd.Series(pd.Timestamp("1970-01-01") + pd.to_timedelta(days, unit="D"))
    cells = _spell_dates(d, np.random.default_rng(seed), as_text)
    assert parse_cells(cells).tolist() == d.tolist()


def test_empty_date_cells_are_no_date():
    assert parse_cells(pd.Series(["", None, np.nan], dtype=object)).isna().all()


def test_same_seed_same_months(start_frames, months):
    again = evolve_months(start_frames, MONTHS[:2], seed=21, rates=BUSY)
    for name, frame in again[1].frames.items():
        pd.testing.assert_frame_equal(frame, months[1].frames[name])
    pd.testing.assert_frame_equal(again[1].truth, months[1].truth)
    other = evolve_months(start_frames, MONTHS[:2], seed=22, rates=BUSY)
    assert not other[1].truth.equals(months[1].truth)


def test_the_first_month_is_the_world_as_given(start_frames, months):
    assert months[0].truth.empty
    assert months[0].frames is start_frames


def test_every_kind_is_in_the_truth_and_lasts_as_its_situation_does(months):
    kinds = {m.as_of: set(m.truth["alert"]) for m in months[1:]}
    assert kinds[MONTHS[1]] == {"SECURED_LOST", "EXITED_AT_RISK", "DANGER_WORSENED", "RECORD_VANISHED",
                                "NEW_HOUSEHOLD"}  # a stall is seen from the month after its event
    assert "RENOVATION_STALLED" in kinds[MONTHS[2]]
    one, two = months[1].truth, months[2].truth
    lasting = one[one["alert"] != "NEW_HOUSEHOLD"][["alert", "key"]]
    assert len(lasting.merge(two[["alert", "key"]])) == len(lasting)
    new_then = one[one["alert"] == "NEW_HOUSEHOLD"]["key"]
    assert not two[(two["alert"] == "NEW_HOUSEHOLD") & two["key"].isin(new_then)].size


def test_the_exports_show_the_events(months):
    before, after, truth = months[0].frames, months[1].frames, months[1].truth
    ps, ha = after["ps_households"], after["ha_archive"]
    lost = truth[truth["alert"] == "SECURED_LOST"]
    assert (ps.set_index(PS_HEADERS["household_no"]).loc[lost["household_no"], PS_HEADERS["housing_secured"]]
            == "否").all()
    assert (ha.set_index(HA_HEADERS["archive_no"]).loc[lost["archive_no"], HA_HEADERS["secured_result"]]
            == "未保障").all()
    gone = truth[truth["alert"] == "RECORD_VANISHED"]
    still_ps = gone["household_no"].isin(ps[PS_HEADERS["household_no"]])
    still_ha = gone["archive_no"].isin(ha[HA_HEADERS["archive_no"]])
    assert (~still_ps | ~still_ha).all() and (still_ps | still_ha).any()  # one system or both
    new = truth[truth["alert"] == "NEW_HOUSEHOLD"]
    assert not new["household_no"].dropna().isin(before["ps_households"][PS_HEADERS["household_no"]]).any()
    assert new["household_no"].dropna().isin(ps[PS_HEADERS["household_no"]]).all()
    assert new["archive_no"].dropna().isin(ha[HA_HEADERS["archive_no"]]).all()
    for frame, key in ((ps, PS_HEADERS["household_no"]), (ha, HA_HEADERS["archive_no"])):
        assert frame[key].is_unique
    new_ids = ps.loc[ps[PS_HEADERS["household_no"]].isin(new["household_no"]), PS_HEADERS["householder_id"]]
    assert len(new_ids) and not new_ids.isin(before["ps_households"][PS_HEADERS["householder_id"]]).any()
    assert not new_ids.isin(before["ha_archive"][HA_HEADERS["householder_id"]]).any()


def test_alerts_of_the_real_pipeline_match_the_truth(months, tmp_path):
    """The whole core on every month, then monitoring: precision and recall 1.0 per kind."""
    from connectors import read_source
    from reconcile import pipeline
    from reconcile.monitor import alerts, household_history, housing_facts
    from reconcile.unify import unify
    from schemas import load_source_specs

    specs = load_source_specs()
    published, archives = {}, []
    for month in months:
        raw = {}
        for name, frame in month.frames.items():
            path = tmp_path / f"{name}.parquet"
            frame.astype("string").to_parquet(path, index=False)
            raw[name] = read_source(path, specs[name]).frame
        s = pipeline.Settings(as_of=month.as_of)
        canon = pipeline.normalize(raw, specs, s)
        matched = pipeline.match(canon)
        unified, _ = unify(canon.ps, canon.ha, matched.matches,
                           pipeline.find_discrepancies(canon, matched, s), month.as_of)
        unified = housing_facts(unified, canon.ha)
        before = pd.concat(archives) if archives else None
        found = alerts(household_history(published), unified, month.as_of, archives_now=canon.ha["archive_no"],
                       archives_before=before)
        published[month.as_of] = unified
        archives.append(canon.ha["archive_no"])
        found = found.assign(key=found["household_no"].fillna("HA:" + found["archive_no"]))
        for kind in set(found["alert"]) | set(month.truth["alert"]):
            got = set(found.loc[found["alert"] == kind, "key"])
            want = set(month.truth.loc[month.truth["alert"] == kind, "key"])
            assert got == want, (month.as_of, kind, sorted(got - want)[:3], sorted(want - got)[:3])
