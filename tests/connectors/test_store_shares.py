"""A snapshot loaded a share of counties at a time (a national run) reads back as the
same snapshot loaded whole: rows that changed county, counties gone since, later dates
already stored (issue 21)."""
from __future__ import annotations

import pandas as pd
import pytest

from connectors.store import Store

D1, D2, D3 = "2020-07-31", "2020-08-31", "2020-09-30"


def groups(rows: list[tuple[str, str | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["archive_no", "county_code", "target_type"])


def run(as_of: str, run_id: str) -> dict:
    return {"run_id": run_id, "as_of": as_of, "scope": "all", "status": "stored", "started_at": f"{as_of}T00:00:00"}


def by_share(frame: pd.DataFrame):
    for county, rows in frame.groupby(frame["county_code"].fillna("~"), sort=True):
        yield [None if county == "~" else county], "other_groups", rows.reset_index(drop=True)


DATES = {
    D1: groups([("A1", "520101", "低保户"), ("A2", "520102", "特困户"), ("A3", None, "低保户"),
                ("A4", "520103", "低保户")]),
    # A2 moved county, A1 changed, 520103 gone whole, the row of no county gone
    D2: groups([("A1", "520101", "特困户"), ("A2", "520101", "特困户"), ("A5", "520102", "低保户")]),
    D3: groups([("A1", "520101", "低保户"), ("A4", "520103", "低保户")]),
}


@pytest.mark.parametrize("order", [[D1, D2, D3], [D1, D3, D2]], ids=["in order", "a date between stored later"])
def test_shares_store_what_a_whole_snapshot_stores(tmp_path, order):
    whole, shared = Store(f"sqlite:///{tmp_path / 'whole.sqlite'}"), Store(f"sqlite:///{tmp_path / 'shared.sqlite'}")
    for i, as_of in enumerate(order):
        whole.save_run(run(as_of, f"w{i}"), {"other_groups": DATES[as_of]})
        shared.save_shares(run(as_of, f"s{i}"), ["other_groups"], by_share(DATES[as_of]))
    for as_of in DATES:
        pd.testing.assert_frame_equal(shared.table_as_of("other_groups", as_of),
                                      whole.table_as_of("other_groups", as_of), obj=as_of)
    assert set(shared.table_as_of("other_groups", D2)["archive_no"]) == {"A1", "A2", "A5"}


def test_a_date_run_again_with_rows_moved_county_stores_the_last_run(tmp_path):
    """The second run of a date: versions starting on it sit in other counties' shares."""
    # A5 started on D2 in 520102 and is now in 520101, whose share comes first; A1 the other way
    again = groups([("A1", "520102", "特困户"), ("A2", "520102", "特困户"), ("A5", "520101", "低保户"),
                    ("A6", None, "低保户")])
    whole, shared = Store(f"sqlite:///{tmp_path / 'whole.sqlite'}"), Store(f"sqlite:///{tmp_path / 'shared.sqlite'}")
    for i, (as_of, frame) in enumerate([(D1, DATES[D1]), (D2, DATES[D2]), (D2, again), (D3, DATES[D3])]):
        whole.save_run(run(as_of, f"w{i}"), {"other_groups": frame})
        shared.save_shares(run(as_of, f"s{i}"), ["other_groups"], by_share(frame))
    for as_of in DATES:
        pd.testing.assert_frame_equal(shared.table_as_of("other_groups", as_of),
                                      whole.table_as_of("other_groups", as_of), obj=as_of)


@pytest.mark.parametrize("runs", [
    # K in 520102 on the date's first run, back in 520101 (which holds its version ending on the date)
    [(D1, [("K", "520101", "低保户")]), (D2, [("K", "520102", "低保户")]), (D2, [("K", "520101", "特困户")])],
    # the other way, leaving 520101 with no row at all (its county only in the pass over counties gone)
    [(D1, [("K", "520102", "低保户")]), (D2, [("K", "520101", "低保户")]), (D2, [("K", "520102", "特困户")])],
    # the county of the re-run holds K's version starting at the next stored date
    [(D1, [("K", "520101", "低保户")]), (D3, [("K", "520101", "特困户")]), (D2, [("K", "520102", "低保户")]),
     (D2, [("K", "520101", "特困户")])],
], ids=["back to a county ending it", "to a county now empty", "to a county starting it later"])
def test_a_date_run_again_whatever_the_store_holds_of_the_key_elsewhere(tmp_path, runs):
    whole, shared = Store(f"sqlite:///{tmp_path / 'whole.sqlite'}"), Store(f"sqlite:///{tmp_path / 'shared.sqlite'}")
    for i, (as_of, rows) in enumerate(runs):
        whole.save_run(run(as_of, f"w{i}"), {"other_groups": groups(rows)})
        shared.save_shares(run(as_of, f"s{i}"), ["other_groups"], by_share(groups(rows)))
    for as_of in DATES:
        pd.testing.assert_frame_equal(shared.table_as_of("other_groups", as_of),
                                      whole.table_as_of("other_groups", as_of), obj=as_of)
