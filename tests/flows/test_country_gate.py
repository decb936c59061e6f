"""The publishing gate of a country run: every suite per partition, the keys the suites
want unique across partitions, rows read against rows accounted for over the whole run;
a failure names what failed, keeps its Data Docs under ``.failed`` and publishes nothing
(issue 21)."""
from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

import reconcile as core
from flows import country_gate
from reconcile.spread_plan import MemoryBox, SpreadSettings, run_spread, serial
from schemas.defaults import DEADLINE
from schemas.published import PublishGateError
from tests.reconcile.test_spread import Rows, hostile_raw  # noqa: F401  (a fixture)

AS_OF = date(2020, 7, 31)
PARTS, BUCKETS = 3, 4


def accounting(read=10, used=9, quarantined=1) -> pd.DataFrame:
    return pd.DataFrame([{"source": "ha_archive", "rows_read": read, "rows_used": used,
                          "rows_quarantined": quarantined, "rows_out_of_scope": 0}])


@pytest.fixture
def box(hostile_raw, specs) -> MemoryBox:
    """A run cut into three partitions, rows anywhere, archives matched across counties
    (``test_spread``'s world): six counties owned by two partitions, the third with no
    records of its own."""
    rng = np.random.default_rng(5)
    shares = {k: rng.integers(0, PARTS, len(v)) for k, v in hostile_raw.items()}
    loaders = [Rows({k: v[shares[k] == i].reset_index(drop=True) for k, v in hostile_raw.items()})
               for i in range(PARTS)]
    counties = sorted(hostile_raw["ps_households"]["village_code"].str[:6].dropna().unique())
    cfg = SpreadSettings(core.Settings(as_of=AS_OF), specs, parts=PARTS, buckets=BUCKETS,
                         groups=[counties[0::2], counties[1::2], []])
    return run_spread(loaders, cfg, serial, MemoryBox()).box


def run_gate(box, tmp_path, acc=None) -> dict:
    (tmp_path / "stage").mkdir(exist_ok=True)
    return country_gate.gate(serial, box, PARTS, BUCKETS, accounting() if acc is None else acc,
                             tmp_path / "stage", tmp_path, "run-1", AS_OF, DEADLINE)


def test_a_sound_run_passes_every_suite_in_every_partition(box, tmp_path):
    summary = run_gate(box, tmp_path)
    assert summary["failed"] == [] and summary["repeated_across_partitions"] == []
    # two partitions of records, each every suite but accounting; accounting once; the keys
    per_part = sum(len(s.entries) for s in country_gate.load_suites() if s.name != "accounting")
    assert summary["evaluated"] > 2 * per_part
    assert not (tmp_path / ".failed").exists()


def _tables(box, i):
    return box.kept("tables", i)


def test_a_key_held_in_two_partitions_fails_the_run_naming_it(box, tmp_path):
    owners = [i for i in range(PARTS) if "matches" in _tables(box, i)]
    a, b = (_tables(box, i) for i in owners)
    # each partition alone still has unique archive numbers in its matches
    b["matches"].loc[b["matches"].index[0], "archive_no"] = a["matches"]["archive_no"].iloc[0]
    box.keep("tables", owners[1], b)
    with pytest.raises(PublishGateError) as e:
        run_gate(box, tmp_path)
    assert "matches.archive_no is not unique across partitions: 1 values in 2 rows" in str(e.value)
    kept = json.loads((tmp_path / ".failed" / AS_OF.isoformat() / "run-1" / "gate.json").read_text("utf-8"))
    assert kept["repeated_across_partitions"][0]["examples"] == [a["matches"]["archive_no"].iloc[0]]


def test_a_partition_that_fails_a_suite_gets_data_docs_naming_the_records(box, tmp_path):
    owner = next(i for i in range(PARTS) if "matches" in _tables(box, i))
    t = _tables(box, owner)
    t["matches"].loc[t["matches"].index[:2], "score"] = 1.5
    box.keep("tables", owner, t)
    with pytest.raises(PublishGateError) as e:
        run_gate(box, tmp_path)
    assert f"partition {owner}: matches: expect_column_values_to_be_between(score): 2 unexpected" in str(e.value)
    assert "household_no=" in str(e.value)  # the failing rows named by their records
    docs = tmp_path / ".failed" / AS_OF.isoformat() / "run-1" / "datadocs" / f"part-{owner:05d}" / "index.html"
    assert docs.is_file()


def test_rows_read_are_checked_against_rows_accounted_over_the_whole_run(box, tmp_path):
    with pytest.raises(PublishGateError, match="the run: accounting: expect_column_pair_values_to_be_equal"):
        run_gate(box, tmp_path, accounting(read=11))


def test_a_partition_with_ledger_items_but_no_records_is_checked_too(box, tmp_path):
    empty = next(i for i in range(PARTS) if "matches" not in _tables(box, i))
    owner = next(i for i in range(PARTS) if "matches" in _tables(box, i))
    items = box.kept("ledger", owner)["ledger"].iloc[[0, 0]]  # an item twice, and once more elsewhere
    box.keep("ledger", empty, {"ledger": items.reset_index(drop=True)})
    with pytest.raises(PublishGateError) as e:
        run_gate(box, tmp_path)
    assert f"partition {empty}: ledger: expect_column_values_to_be_unique(discrepancy_id)" in str(e.value)
    assert "ledger.discrepancy_id is not unique across partitions: 1 values in 3 rows" in str(e.value)
