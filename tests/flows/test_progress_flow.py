"""The monthly progress report reads a month end's tables from the store's history (issue 23),
and from the run folder when there is no store: the same report either way."""
import json
import uuid
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from connectors.publish import Staging
from connectors.store import Store
from flows.progress_flow import source_tables
from reconcile import monthly_progress as progress_table

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "sample" / "2020-07-31"
TYPES = {"large_string": "string", "int64": "Int64", "bool": "boolean", "double": "float64"}


def _published(name: str) -> pd.DataFrame:
    """A table of the reference sample run, in the types of its parquet file."""
    schema = dict(json.loads((REFERENCE / "schema.json").read_text(encoding="utf-8")))[name]
    frame = pd.read_csv(REFERENCE / f"{name}.csv.gz", dtype=str, keep_default_na=False, na_values=["<NA>"])
    for col, kind in schema:
        if kind.startswith("timestamp"):
            frame[col] = pd.to_datetime(frame[col])
        elif kind == "bool":
            frame[col] = frame[col].map({"True": True, "False": False}).astype("boolean")
        else:
            frame[col] = frame[col].astype(TYPES[kind])
    return frame


def _record(as_of: str) -> dict:
    return {"run_id": f"t-{uuid.uuid4().hex[:12]}", "as_of": as_of, "scope": "all", "status": "stored",
            "started_at": as_of, "finished_at": None, "parameters": {}, "inputs": {}, "counts": {}, "timings": {}}


@pytest.fixture(scope="module")
def month_end(tmp_path_factory):
    """OUT with the sample's tables published for 2020-07-31 and stored, and a later run
    (2020-08-03) whose HA records differ: the July report must not see them."""
    out = tmp_path_factory.mktemp("progress")
    ha, unified = _published("records_ha"), _published("unified")
    url = f"sqlite:///{out / 'anju.sqlite'}"
    store = Store(url)
    with Staging(out, "2020-07-31", "r1") as st:
        st.write_table("records_ha", ha)
        st.write_table("unified", unified)
        st.commit()
    store.save_run(_record("2020-07-31"), {"records_ha": ha, "unified": unified})
    later = ha.assign(completion_date=pd.Timestamp("2020-08-01"))
    store.save_run(_record("2020-08-03"), {"records_ha": later, "unified": unified})
    store.engine.dispose()
    return out, url, ha, unified


def test_the_report_from_the_store_is_the_report_from_the_run_folder(month_end):
    out, url, ha, unified = month_end
    end = date(2020, 7, 31)
    from_folder = source_tables(out, end)
    from_store = source_tables(out, end, url)
    assert from_folder[2] == "2020-07-31" and from_store[2] == "store as of 2020-07-31"
    want = progress_table(from_folder[0], from_folder[1], end, date(2020, 6, 30))
    got = progress_table(from_store[0], from_store[1], end, date(2020, 6, 30))
    pd.testing.assert_frame_equal(got, want)
    assert want["tasks"].sum() > 0 and want["completed"].sum() > 0  # a report with something in it


def test_a_pruned_month_end_is_still_reported_from_the_store(month_end, tmp_path):
    _, url, ha, unified = month_end
    end = date(2020, 8, 31)  # the 2020-08-03 run is the month's latest; no folder of it at all
    records, _, source = source_tables(tmp_path, end, url)
    assert source == "store as of 2020-08-03"
    assert (records["completion_date"] == pd.Timestamp("2020-08-01")).all() and len(records) == len(ha)


def test_a_store_without_ha_records_falls_back_to_the_run_folder(month_end, tmp_path):
    out, _, ha, _ = month_end
    empty = f"sqlite:///{tmp_path / 'old.sqlite'}"  # a store that kept no HA records (before 0005)
    records, _, source = source_tables(out, date(2020, 7, 31), empty)
    assert source == "2020-07-31" and len(records) == len(ha)
