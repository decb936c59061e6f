"""``merge_scoped``: a scoped re-run keeps other counties' rows from the previous run.

The previous run may have been published by an older Anju whose table lacked a column
this run's table has (the outputs contract only ever adds columns): the kept rows then
carry the new column as missing, and nothing else about them changes.
"""
from __future__ import annotations

import pandas as pd

from reconcile.scope import merge_scoped

STRINGS = ["household_no", "archive_no", "county_code", "method"]
SCOPE = ["522425"]


def matches(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame.astype({c: "string" for c in frame.columns if c in STRINGS or c == "agreement"})


# previous run: one pair in the re-run county (replaced), two in other counties (kept)
PREVIOUS = [dict(household_no="H1", archive_no="A1", county_code="522425", method="fuzzy", score=0.7),
            dict(household_no="H4", archive_no="A4", county_code="522427", method="id_exact", score=1.0),
            dict(household_no="H2", archive_no="A2", county_code="522426", method="id_near", score=0.9)]
CURRENT = [dict(household_no="H3", archive_no="A3", county_code="522425", method="id_exact", score=1.0),
           dict(household_no="H1", archive_no="A1", county_code="522425", method="id_exact", score=1.0)]


def test_same_columns_keeps_other_counties_and_replaces_the_scope():
    merged = merge_scoped({"matches": matches(PREVIOUS)}, {"matches": matches(CURRENT)}, SCOPE)["matches"]
    assert merged[["household_no", "method"]].values.tolist() == [
        ["H1", "id_exact"], ["H2", "id_near"], ["H3", "id_exact"], ["H4", "id_exact"]]
    assert merged.dtypes.to_dict() == matches(CURRENT).dtypes.to_dict()


def test_a_table_the_previous_run_lacks_is_this_runs_table():
    current = matches(CURRENT)
    merged = merge_scoped({}, {"matches": current}, SCOPE)["matches"]
    pd.testing.assert_frame_equal(merged, current)


def test_added_string_column_is_missing_on_kept_rows():
    current = matches([dict(r, agreement=f"agree-{r['household_no']}") for r in CURRENT])
    merged = merge_scoped({"matches": matches(PREVIOUS)}, {"matches": current}, SCOPE)["matches"]
    assert list(merged.columns) == list(current.columns)
    assert merged["household_no"].tolist() == ["H1", "H2", "H3", "H4"]
    assert merged["agreement"].dtype == current["agreement"].dtype
    by_hh = merged.set_index("household_no")
    assert by_hh.loc["H1", "agreement"] == "agree-H1" and by_hh.loc["H3", "agreement"] == "agree-H3"
    assert by_hh.loc[["H2", "H4"], "agreement"].isna().all()
    # the kept rows are otherwise the previous run's rows
    assert by_hh.loc["H2", "method"] == "id_near" and by_hh.loc["H2", "score"] == 0.9


def test_added_numeric_column_is_missing_on_kept_rows():
    current = matches([dict(r, members=3) for r in CURRENT])
    merged = merge_scoped({"matches": matches(PREVIOUS)}, {"matches": current}, SCOPE)["matches"]
    by_hh = merged.set_index("household_no")
    assert by_hh.loc[["H1", "H3"], "members"].tolist() == [3, 3]
    assert by_hh.loc[["H2", "H4"], "members"].isna().all()


def test_added_column_in_a_discrepancies_table():
    cols = dict(rule="HA_MISSING", archive_no=pd.NA, field=pd.NA)
    previous = pd.DataFrame([dict(cols, discrepancy_id="d1", household_no="H1", county_code="522425"),
                             dict(cols, discrepancy_id="d2", household_no="H2", county_code="522426")], dtype="string")
    current = pd.DataFrame([dict(cols, discrepancy_id="d3", household_no="H3", county_code="522425",
                                 explanation="new")], dtype="string")
    merged = merge_scoped({"discrepancies": previous}, {"discrepancies": current}, SCOPE)["discrepancies"]
    assert merged["discrepancy_id"].tolist() == ["d3", "d2"]  # ordered by rule, then county
    assert merged["explanation"].isna().tolist() == [False, True]
