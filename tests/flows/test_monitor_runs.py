"""Dynamic monitoring through the reconcile flow: a generated world evolving over seven
months (``anju generate --months``), reconciled month after month; the alerts against the
truth of every alert, re-runs of a past date and a scoped re-run byte for byte, the store."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow
MONTHS = "2020-07:2020-12"  # six months: the first without history
KINDS = ["SECURED_LOST", "DANGER_WORSENED", "RENOVATION_STALLED", "EXITED_AT_RISK", "RECORD_VANISHED",
         "NEW_HOUSEHOLD"]


def run(src: Path, out: Path, as_of: date, **kw) -> dict:
    from flows.reconcile_flow import reconcile

    return reconcile(ps_households=str(src / "ps_households.parquet"), ps_members=str(src / "ps_members.parquet"),
                     ha_archive=str(src / "ha_archive.parquet"), as_of=as_of, out=str(out), **kw)


def alerts_file(out: Path, as_of: date) -> Path:
    return out / as_of.isoformat() / "alerts.parquet"


def scores(found: pd.DataFrame, truth: pd.DataFrame) -> dict[str, tuple[float, float, int]]:
    """Per kind: (precision, recall, true alerts), alerts told by (as_of, kind, household key)."""
    key = lambda f: set(zip(f["as_of"], f["alert"], f["key"]))  # noqa: E731
    out = {}
    for kind in KINDS:
        got, want = key(found[found["alert"] == kind]), key(truth[truth["alert"] == kind])
        hit = len(got & want)
        out[kind] = (hit / len(got) if got else 1.0, hit / len(want) if want else 1.0, len(want))
    return out


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    from flows.generate_cmd import generate_months, month_ends

    src = tmp_path_factory.mktemp("months")
    return month_ends(MONTHS), generate_months(1500, 19, month_ends(MONTHS), "parquet", src)


@pytest.fixture(scope="module")
def history(harness, months, tmp_path_factory):
    """Every month reconciled in order: (out, {as_of: alerts.parquet bytes})."""
    dates, folders = months
    out = tmp_path_factory.mktemp("out")
    published = {}
    for d in dates:
        run(folders[f"{d:%Y-%m}"], out, d)
        published[d] = alerts_file(out, d).read_bytes()
    return out, published


def test_every_alert_kind_is_found_with_its_truth(months, history):
    dates, folders = months
    out, _ = history
    found, truth = [], []
    for d in dates:
        a = pd.read_parquet(alerts_file(out, d))
        found.append(a.assign(as_of=d.isoformat(), key=a["household_no"].fillna("HA:" + a["archive_no"])))
        truth.append(pd.read_csv(folders[f"{d:%Y-%m}"] / "truth" / "alerts.csv", dtype=str))
    assert found[0].empty  # nothing before the first month: no alert
    got = scores(pd.concat(found), pd.concat(truth))
    for kind, (precision, recall, n) in got.items():
        assert n >= 10, (kind, n)  # enough true alerts of each kind to measure
        assert precision >= 0.99 and recall >= 0.99, (kind, precision, recall)


def test_rerunning_a_past_month_gives_identical_alerts(months, history):
    dates, folders = months
    out, published = history
    past = dates[3]  # later months are already published: history is by date, not by run order
    run(folders[f"{past:%Y-%m}"], out, past)
    assert alerts_file(out, past).read_bytes() == published[past]


def test_a_scoped_rerun_gives_the_alerts_of_the_full_run(months, history):
    dates, folders = months
    out, published = history
    last = dates[-1]
    a = pd.read_parquet(alerts_file(out, last))
    county = a["county_code"].value_counts().index[0]
    run(folders[f"{last:%Y-%m}"], out, last, counties=[county])
    assert alerts_file(out, last).read_bytes() == published[last]


def test_alerts_and_their_ledger_reach_the_store(months, history):
    from connectors.store import Store, default_url

    dates, _ = months
    out, _ = history
    st = Store(default_url(out))
    for d in dates[1:3]:
        stored = st.table_as_of("alerts", d.isoformat())
        published = pd.read_parquet(alerts_file(out, d))
        assert stored["alert_id"].tolist() == published["alert_id"].tolist()
        assert stored["message_zh"].tolist() == published["message_zh"].tolist()
    one, two = (st.table_as_of("alert_ledger", d.isoformat()).set_index("alert_id") for d in dates[1:3])
    new_then = pd.read_parquet(alerts_file(out, dates[1])).query("alert == 'NEW_HOUSEHOLD'")["alert_id"]
    assert len(new_then) and (one.loc[new_then, "status"] == "new").all()
    # an event: raised by the first run that sees the household, resolved by the next
    assert (two.loc[new_then, "status"] == "resolved").all()
    assert (two.loc[new_then, "resolved_at"] == dates[2].isoformat()).all()
    lasting = pd.read_parquet(alerts_file(out, dates[1])).query("alert == 'SECURED_LOST'")["alert_id"]
    assert len(lasting) and (two.loc[lasting, "status"] == "open").all()
    published = pd.read_parquet(out / dates[-1].isoformat() / "alert_ledger.parquet")
    assert "changed_by_run" not in published and set(published["status"]) >= {"new", "open", "resolved"}


def test_generate_months_writes_a_folder_per_month_and_refuses_a_start_before_the_truth_holds(tmp_path):
    from flows.generate_cmd import generate_months, month_ends

    folders = generate_months(300, 5, month_ends("2020-08:2020-10"), "native", tmp_path)
    assert list(folders) == ["2020-08", "2020-09", "2020-10"]
    for month, folder in folders.items():
        assert {p.name for p in folder.iterdir()} == {"ps_households.csv", "ps_members.csv", "ha_archive.xlsx",
                                                      "truth"}
        truth = pd.read_csv(folder / "truth" / "alerts.csv", dtype=str)
        assert set(truth["as_of"]) <= {f"{month}-{month_ends(f'{month}:2021-12')[0].day}"}
    assert (folders["2020-08"] / "truth" / "discrepancies.csv").exists()  # the world's own truth, month one
    with pytest.raises(ValueError, match="first month ends 2020-01-31, before 2020-07-30"):
        generate_months(300, 5, month_ends("2020-01:2020-07"), "native", tmp_path / "early")
    with pytest.raises(ValueError, match="expected FIRST:LAST"):
        month_ends("2020-13:2021-01")
