"""The known sample looked for among the households of smallest hash first (issue 20) is
the sample of every pair: same households, same pairs, same order, whether few or most
households qualify (both records in one county), with ties and repeated households."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile import match_scored
from reconcile.match_scored import _qualifying, known_sample, sample_candidates


def _world(seed: int, households: int, archives_per: int, cross_share: float):
    rng = np.random.default_rng(seed)
    hh = np.array([f"H{i:05d}" for i in range(households)], dtype=object)
    county = rng.choice(["C1", "C2", "C3"], size=households)
    rows = []
    for i in range(households):
        for j in range(int(rng.integers(1, archives_per + 1))):
            rows.append((hh[i], f"A{i:05d}{j}", rng.choice(["id_exact", "member_id"]),
                         rng.choice(["C1", "C2", "C3"]) if rng.random() < cross_share else county[i]))
    matched = pd.DataFrame(rows, columns=["household_no", "archive_no", "method", "ha_county"]).sample(
        frac=1.0, random_state=seed).reset_index(drop=True)
    ps_f = pd.DataFrame({"household_no": pd.array(hh, dtype="string"), "county_code": pd.array(county, dtype="string")})
    ha_f = pd.DataFrame({"archive_no": matched["archive_no"].astype("string"),
                         "county_code": matched["ha_county"].astype("string")})
    matched = matched.drop(columns="ha_county").astype("string")
    return matched, ps_f, ha_f


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), households=st.integers(1, 400), archives_per=st.integers(1, 3),
       cross_share=st.sampled_from([0.0, 0.1, 0.6, 1.0]), sample=st.integers(0, 300),
       look_first=st.sampled_from([1.0, 1.25, 3.0]))
def test_the_sample_looked_for_first_is_the_sample_of_every_pair(seed, households, archives_per, cross_share,
                                                                  sample, look_first):
    matched, ps_f, ha_f = _world(seed, households, archives_per, cross_share)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(match_scored, "KNOWN_SAMPLE", sample)
        mp.setattr(match_scored, "SAMPLE_LOOK_FIRST", look_first)
        got = sample_candidates(matched, ps_f, ha_f)
        want = known_sample(_qualifying(matched, ps_f, ha_f))
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_the_first_look_is_taken_and_a_short_one_falls_back(monkeypatch):
    """Most households qualify: only the first look's pairs are joined. None qualifies
    beyond a few: every pair is, and the sample is as short as what qualifies."""
    seen = []
    real = match_scored._qualifying
    monkeypatch.setattr(match_scored, "_qualifying", lambda pairs, *a: seen.append(len(pairs)) or real(pairs, *a))
    monkeypatch.setattr(match_scored, "KNOWN_SAMPLE", 50)
    matched, ps_f, ha_f = _world(7, 1000, 1, 0.0)
    assert len(sample_candidates(matched, ps_f, ha_f)) == 50 and seen == [int(50 * match_scored.SAMPLE_LOOK_FIRST)]
    seen.clear()
    matched, ps_f, ha_f = _world(7, 1000, 1, 1.0)  # the archive's county drawn at random: about a third qualify
    got = sample_candidates(matched, ps_f, ha_f)
    assert len(got) == 50
    matched, ps_f, ha_f = _world(8, 1000, 1, 0.0)
    ha_f["county_code"] = pd.array(["X"] * len(ha_f), dtype="string")
    ha_f.loc[:9, "county_code"] = ps_f.set_index("household_no").loc[matched.loc[:9, "household_no"], "county_code"].array
    seen.clear()
    got = sample_candidates(matched, ps_f, ha_f)
    assert len(got) == 10 and seen[-1] == len(matched)
