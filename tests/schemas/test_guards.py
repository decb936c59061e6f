"""The volume and shape guard: expectations of the gate comparing a run with the previous
published one. Each passes on an ordinary night and fails on the one break it is for,
naming the county and the figure."""
from __future__ import annotations

import pandas as pd
import pytest

from connectors.datadocs import run_gate
from reconcile.masking import mask_full_ids
from schemas.guards import GuardThresholds, breaches, guard_frames, profile

A, B = "522425", "522426"


def records(n_a: int = 200, n_b: int = 100, filled: float = 1.0, county_of_empty: str = A) -> dict[str, pd.DataFrame]:
    def side(key: str, n: int, county: str) -> pd.DataFrame:
        k = int(round(n * filled)) if county == county_of_empty else n
        method = ["原住房鉴定安全"] * k + [None] * (n - k)
        return pd.DataFrame({key: [f"{county}-{i}" for i in range(n)], "county_code": county,
                             "guarantee_method": pd.Series(method, dtype="string"),
                             "phone": pd.Series([None] * n, dtype="string"), "_row": range(n)})

    ps = pd.concat([side("household_no", n_a, A), side("household_no", n_b, B)], ignore_index=True)
    ha = pd.concat([side("archive_no", n_a, A), side("archive_no", n_b, B)], ignore_index=True)
    return {"ps_households": ps.drop(columns="guarantee_method"), "ha_archive": ha}


def ledger(resolved: dict[str, int] | None = None, open_: int = 100, as_of: str = "2020-07-31") -> pd.DataFrame:
    rows = []
    for county in (A, B):
        r = (resolved or {}).get(county, 0)
        rows += [{"discrepancy_id": f"{county}o{i}", "county_code": county, "status": "open", "resolved_at": None}
                 for i in range(open_ - r)]
        rows += [{"discrepancy_id": f"{county}r{i}", "county_code": county, "status": "resolved",
                  "resolved_at": as_of} for i in range(r)]
        # resolved long ago: not this run's doing
        rows += [{"discrepancy_id": f"{county}x{i}", "county_code": county, "status": "resolved",
                  "resolved_at": "2020-06-01"} for i in range(50)]
    return pd.DataFrame(rows).astype("string")


PREVIOUS = profile(records())


def outcome(current, led=None, accepted=(), usual=0.01, previous=PREVIOUS):
    frames = guard_frames(profile(current), previous, ledger() if led is None else led, "2020-07-31",
                          usual_share=usual, thresholds=GuardThresholds(), accepted=list(accepted))
    result = run_gate(frames, docs=None, group="guards", mask_ids=mask_full_ids)
    return result, breaches(frames)


def test_an_ordinary_night_passes_every_guard():
    result, found = outcome(records(n_a=210, n_b=95))   # +5 %, -5 %: within 20 %
    assert result.success, result.failed
    assert found == [] and result.evaluated >= 4


def test_no_previous_run_means_nothing_to_compare_and_nothing_held():
    result, found = outcome(records(), previous=profile({}))
    assert result.success and found == []


def test_a_truncated_export_holds_naming_county_source_and_figure():
    cur = records()
    cur["ha_archive"] = cur["ha_archive"].iloc[:len(cur["ha_archive"]) // 2]  # A's rows halved, B gone
    result, found = outcome(cur)
    assert not result.success
    assert f"{A}: ha_archive rows 200 -> 150 (-25%)" in found
    assert f"{B}: ha_archive rows 100 -> 0 (-100%)" in found
    assert "all: ha_archive rows 300 -> 150 (-50%)" in found
    failed = {f["expectation"] for f in result.failed}
    assert "county_rows: expect_column_pair_values_a_to_be_greater_than_b(rows_now/low)" in failed
    records_named = [r for f in result.failed for r in f["records"]]
    assert any(r.startswith(f"{B}: ha_archive rows 100 -> 0") for r in records_named)


def test_a_county_grown_past_the_threshold_holds_and_a_new_county_too():
    result, found = outcome(records(n_a=260))
    assert not result.success and f"{A}: ps_households rows 200 -> 260 (+30%)" in found
    prev_a_only = profile({k: v[v["county_code"] == A] for k, v in records().items()})
    result, found = outcome(records(), previous=prev_a_only)
    assert f"{B}: ps_households rows 0 -> 100 (new county)" in found


def test_small_counties_are_not_judged_by_percentages():
    small = profile(records(n_b=10))
    result, found = outcome(records(n_b=5), previous=small)
    assert result.success and found == []


def test_a_column_filled_before_and_mostly_empty_now_holds():
    result, found = outcome(records(filled=0.3))
    assert not result.success
    assert f"{A}: ha_archive.guarantee_method filled 100% -> 30%" in found
    assert not any("phone" in f for f in found)   # never filled: nothing lost


def test_a_spike_of_resolved_discrepancies_holds():
    result, found = outcome(records(), led=ledger({A: 60}))
    assert not result.success
    assert f"{A}: 60 of 100 open discrepancies resolved (60%; usual 1%, limit 5%)" in found
    assert any(f.startswith("all: 60 of 200 open discrepancies resolved (30%") for f in found)
    result, found = outcome(records(), led=ledger({A: 2, B: 2}))   # 2 %: an ordinary night
    assert result.success and found == []


def test_an_accepted_county_passes_every_county_guard():
    cur = records(filled=0.3)
    cur["ha_archive"] = cur["ha_archive"][cur["ha_archive"]["county_code"] != B]
    cur["ps_households"] = cur["ps_households"][cur["ps_households"]["county_code"] != B]
    result, found = outcome(cur, led=ledger({B: 100}), accepted=[A, B])
    assert result.success, found
    result, found = outcome(cur, led=ledger({B: 100}), accepted=[B])
    assert not result.success and found and not any(f.startswith(B) for f in found), found
    assert any(f.startswith(A) for f in found)


def test_the_guards_write_their_own_data_docs_page(tmp_path):
    cur = records()
    cur["ha_archive"] = cur["ha_archive"].iloc[:150]
    frames = guard_frames(profile(cur), PREVIOUS, ledger(), "2020-07-31", usual_share=0.0,
                          thresholds=GuardThresholds(), accepted=[])
    result = run_gate(frames, docs=tmp_path / "guards", group="guards", mask_ids=mask_full_ids)
    assert not result.success
    index = (tmp_path / "guards" / "index.html").read_text(encoding="utf-8")
    assert "county_rows" in index and "resolved_share" in index


def test_a_handful_of_open_discrepancies_is_not_judged_by_its_share():
    """1 of 1 resolved is 100 %, and means nothing: below min_rows the share holds nothing."""
    from schemas.guards import GuardThresholds, _resolved_share

    ledger = pd.DataFrame({"county_code": ["522425"], "status": ["resolved"], "resolved_at": ["2020-07-31"]})
    assert _resolved_share(ledger, "2020-07-31", 0.0, GuardThresholds()).empty
