"""County partitions: how a run is cut never changes its tables, and a 2-worker Dask
cluster gives exactly what the default thread pool gives."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow
AS_OF = date(2020, 7, 31)
TABLES = ("matches", "discrepancies", "unified", "other_groups", "quarantine", "ledger", "records_ps", "records_ha")


def run(out, flow=None, **kw) -> dict:
    from flows.reconcile_flow import reconcile

    return (flow or reconcile)(ps_households=str(SAMPLE / "ps_households.csv"),
                               ps_members=str(SAMPLE / "ps_members.csv"), ha_archive=str(SAMPLE / "ha_archive.xlsx"),
                               as_of=AS_OF, out=str(out), **kw)


def tables(out) -> dict[str, bytes]:
    return {name: (out / AS_OF.isoformat() / f"{name}.parquet").read_bytes() for name in TABLES}


@pytest.fixture(scope="module")
def threads_small(tmp_path_factory):
    out = tmp_path_factory.mktemp("threads")
    return run(out, partition_records=1), out  # one partition per county


def test_partitioned_run_equals_a_single_partition(harness, threads_small, tmp_path):
    small, out = threads_small
    whole = run(tmp_path, partition_records=10_000_000)
    assert small["parameters"]["partitions"] == 2 and whole["parameters"]["partitions"] == 1
    assert small["parameters"]["task_runner"] == "ThreadPoolTaskRunner"
    assert tables(out) == tables(tmp_path)


def test_two_dask_workers_give_the_same_tables_as_threads(harness, threads_small, tmp_path):
    from flows.reconcile_flow import reconcile
    from flows.runners import task_runner

    _, out = threads_small
    dask = run(tmp_path, flow=reconcile.with_options(task_runner=task_runner("local", workers=2)),
               partition_records=1)
    assert dask["parameters"]["task_runner"] == "DaskTaskRunner"
    assert dask["parameters"]["partitions"] == 2
    assert tables(out) == tables(tmp_path)
    assert len(pd.read_parquet(tmp_path / AS_OF.isoformat() / "matches.parquet")) > 1900
