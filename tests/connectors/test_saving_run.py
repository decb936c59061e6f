"""A run's store write in its own thread (issue 20): begun early, committed only when told,
rolled back when stopped or when the write fails; on SQLite and the real servers."""
import threading
import uuid

import pandas as pd
import pytest

from connectors.store import SavingRun, Store


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def store(request, tmp_path, fresh_database):
    return Store(f"sqlite:///{tmp_path / 'anju.sqlite'}" if request.param == "sqlite"
                 else fresh_database(request.param))


def record(run_id: str, as_of: str) -> dict:
    return {"run_id": run_id, "as_of": as_of, "scope": "all", "status": "stored", "started_at": "x",
            "finished_at": "provisional", "parameters": {}, "inputs": {}, "counts": {}, "timings": {}}


MATCHES = pd.DataFrame({"household_no": ["H1", "H2"], "archive_no": ["A1", "A2"], "score": [1.0, 0.5]})


def test_commit_stores_the_run_with_its_last_values(store):
    run_id, as_of = f"t-{uuid.uuid4().hex[:10]}", "1990-01-31"
    saving = SavingRun(store, record(run_id, as_of), {"matches": MATCHES})
    saving.commit(finished_at="2020-08-01T00:00:00")
    runs = store.run_history().set_index("run_id")
    assert runs.loc[run_id, "finished_at"] == "2020-08-01T00:00:00"
    assert store.table_as_of("matches", as_of)["archive_no"].tolist() == ["A1", "A2"]


def test_stop_stores_nothing_and_ends_the_thread(store):
    run_id, as_of = f"t-{uuid.uuid4().hex[:10]}", "1990-02-28"
    before = set(threading.enumerate())
    saving = SavingRun(store, record(run_id, as_of), {"matches": MATCHES, "unified": pd.DataFrame(
        {"unified_id": ["U1"], "household_no": ["H1"]})})
    saving.stop()
    assert set(threading.enumerate()) <= before  # no writer left behind
    assert run_id not in store.run_history()["run_id"].tolist()
    assert store.table_as_of("matches", as_of).empty


def test_a_failed_write_is_raised_by_commit_and_stores_nothing(store):
    run_id, as_of = f"t-{uuid.uuid4().hex[:10]}", "1990-03-31"
    no_status = pd.DataFrame({"discrepancy_id": ["0123456789abcdef"], "rule": ["HA_MISSING"],
                              "county_code": ["522425"], "household_no": ["H1"], "archive_no": [None],
                              "field": [None], "status": [None],  # NOT NULL: the write fails here
                              "first_seen": [as_of], "last_seen": [None], "resolved_at": [None],
                              "changed_by_run": [run_id]})
    saving = SavingRun(store, record(run_id, as_of), {"matches": MATCHES}, no_status)
    with pytest.raises(Exception, match="(?i)null"):  # PostgreSQL's COPY raises the driver's own error
        saving.commit(finished_at="y")
    assert run_id not in store.run_history()["run_id"].tolist()
    assert store.table_as_of("matches", as_of).empty


def test_a_timeout_while_commit_waits_stops_the_write(tmp_path, monkeypatch):
    """A task's timeout (an alarm raising in the main thread, as Prefect's does) or Ctrl-C
    lands in ``commit`` while the tables are still being written (most of publishing):
    the write stops and nothing is stored, ever."""
    import signal
    import time

    store = Store(f"sqlite:///{tmp_path / 'anju.sqlite'}")
    store.migrate()
    write = Store.write_snapshot

    def slow(self, *args, **kwargs):
        time.sleep(1.5)
        return write(self, *args, **kwargs)

    def alarm(signum, frame):
        raise TimeoutError("publish timed out")

    monkeypatch.setattr(Store, "write_snapshot", slow)
    saving = SavingRun(store, record("r-interrupted", "1990-04-30"), {"matches": MATCHES})
    previous = signal.signal(signal.SIGALRM, alarm)  # pytest runs tests in the main thread, xdist's workers too
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(TimeoutError):
            saving.commit(finished_at="y")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert saving._done.is_set()  # waited for: no writer left behind ...
    time.sleep(2)  # ... to commit once its table is written
    assert "r-interrupted" not in store.run_history()["run_id"].tolist()
