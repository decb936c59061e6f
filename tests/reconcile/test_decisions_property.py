"""The people's REVIEW_MATCH answers applied without a pair's text for every match (issue
20): the same matches and review list as the pair-by-text way, for any answers, with
missing numbers, repeated households and answers about records that are gone."""
from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.frames import isin
from reconcile.match import MATCH_COLUMNS, MatchResult, _pairs, apply_decisions, in_pairs

KEYS = st.sampled_from(["H1", "H2", "H3", "H4", None])
ARCHIVES = st.sampled_from(["A1", "A2", "A3", "A4", "A5", None])


def _frame(rows):
    return pd.DataFrame({"household_no": pd.array([h for h, _ in rows], dtype="string"),
                         "archive_no": pd.array([a for _, a in rows], dtype="string")})


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(KEYS, ARCHIVES), max_size=12), pairs=st.lists(st.tuples(KEYS, ARCHIVES), max_size=6))
def test_in_pairs_is_the_pairs_text_looked_up(rows, pairs):
    frame, wanted = _frame(rows), _frame(pairs)
    assert in_pairs(frame, wanted).tolist() == isin(_pairs(frame), _pairs(wanted)).tolist()


def _by_text(ps, ha, result, confirmed, rejected):
    """The answers applied as before issue 20's change: each pair as text, the county by map."""
    yes = confirmed[isin(confirmed["household_no"], ps["household_no"]) & isin(confirmed["archive_no"],
                                                                               ha["archive_no"])]
    yes = yes.drop_duplicates("archive_no", keep="first")
    decided = pd.concat([_pairs(yes), _pairs(rejected)], ignore_index=True)
    matches = result.matches[~isin(result.matches["archive_no"], yes["archive_no"])
                             & ~isin(_pairs(result.matches), _pairs(rejected))]
    review = result.review[~isin(_pairs(result.review), decided) & ~isin(result.review["archive_no"], yes["archive_no"])]
    clerical = pd.DataFrame({"household_no": yes["household_no"].astype("string"),
                             "archive_no": yes["archive_no"].astype("string"), "method": "clerical", "score": 1.0,
                             "agreement": pd.NA, "member_name": pd.NA, "weights": pd.NA,
                             "explanation": "县级人员在台账中核实为同一户"})
    clerical["county_code"] = clerical["household_no"].map(ps.drop_duplicates("household_no")
                                                           .set_index("household_no")["county_code"])
    out = pd.concat([f for f in (matches, clerical[MATCH_COLUMNS]) if len(f)], ignore_index=True) \
        if len(matches) or len(clerical) else matches
    out = out[MATCH_COLUMNS].astype(result.matches[MATCH_COLUMNS].dtypes.to_dict())
    out = out.sort_values(["household_no", "archive_no"], kind="stable").reset_index(drop=True)
    return out, review.reset_index(drop=True)


@settings(max_examples=150, deadline=None)
@given(matched=st.lists(st.tuples(st.sampled_from(["H1", "H2", "H3", "H4"]), st.sampled_from(["A1", "A2", "A3", "A4"])),
                        max_size=6, unique_by=lambda p: p[1]),
       review=st.lists(st.tuples(KEYS, ARCHIVES), max_size=5),
       confirmed=st.lists(st.tuples(KEYS, ARCHIVES), max_size=4), rejected=st.lists(st.tuples(KEYS, ARCHIVES), max_size=4),
       counties=st.lists(st.sampled_from(["1", "2"]), min_size=6, max_size=6))
def test_answers_apply_as_the_pair_by_text_way(matched, review, confirmed, rejected, counties):
    # a household number twice in the PS records: the first one's county, as before
    ps = pd.DataFrame({"household_no": pd.array(["H1", "H2", "H3", "H1", "H5", "H2"], dtype="string"),
                       "county_code": pd.array(counties, dtype="string")})
    ha = pd.DataFrame({"archive_no": pd.array(["A1", "A2", "A3", "A4"], dtype="string")})
    m = _frame(matched).assign(county_code="1", method="fuzzy", score=0.9, agreement=pd.NA, member_name=pd.NA,
                               weights=pd.NA, explanation=pd.NA)[MATCH_COLUMNS]
    m = m.astype({c: "string" for c in MATCH_COLUMNS if c != "score"}).sort_values(["household_no", "archive_no"])
    result = MatchResult(m.reset_index(drop=True), _frame(review).assign(score=0.5))
    got = apply_decisions(ps, ha, result, _frame(confirmed), _frame(rejected))
    want_matches, want_review = _by_text(ps, ha, result, _frame(confirmed), _frame(rejected))
    pd.testing.assert_frame_equal(got.matches, want_matches, check_exact=True)
    pd.testing.assert_frame_equal(got.review, want_review, check_exact=True)
