"""A source that stays down: the extract task is retried with backoff, then the run fails
with a clear message and the last good outputs stay published."""
from __future__ import annotations

import pytest

from tests.conftest import AS_OF, SAMPLE
from tests.flows.conftest import run_sample

pytestmark = pytest.mark.slow
DOWN = "postgresql+psycopg2://postgres@127.0.0.1:1/test#ha_archive"  # nothing listens on port 1


def test_a_source_that_stays_down_is_retried_then_fails_cleanly(harness, tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    import flows.reconcile_flow as rf

    good = run_sample(tmp_path)
    live = (tmp_path / AS_OF.isoformat()).resolve()
    assert rf.extract.retries == 2
    monkeypatch.setattr(rf, "extract", rf.extract.with_options(retry_delay_seconds=0))  # same retries, no wait

    state = rf.reconcile(ps_households=str(SAMPLE / "ps_households.csv"), ha_archive=DOWN, as_of=AS_OF,
                         out=str(tmp_path), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception) as e:
        state.result()
    assert "refused the connection" in str(e.value) and "127.0.0.1:1" in str(e.value)

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(
            any_=[state.state_details.flow_run_id])))
    extracts = sorted((r.state.type.value, r.run_count) for r in runs if r.name.startswith("extract"))
    assert extracts == [("COMPLETED", 1), ("FAILED", 3)]  # PS read once; the archive tried 1 + 2 retries

    assert (tmp_path / AS_OF.isoformat()).resolve() == live  # last good outputs still published
    assert (live / "run.json").read_text(encoding="utf-8").count(good["run_id"]) >= 1



def _state(exc):
    from prefect.states import Failed

    return Failed(data=exc)


def _operational(statement):
    import sqlalchemy as sa

    return sa.exc.OperationalError(statement, {}, Exception("connection refused"))


@pytest.mark.parametrize("exc, transient", [
    ("transient_source", True), (ConnectionRefusedError(111, "refused"), True),
    (ConnectionResetError(104, "reset"), True), (TimeoutError("timed out"), True),
    (OSError(11, "Resource temporarily unavailable"), True), (OSError(16, "Device or resource busy"), True),
    (OSError(110, "Connection timed out"), True), ("connect_failed", True),
    ("bad_file", False), (KeyError("a bug"), False), (ValueError("a bug"), False), (ZeroDivisionError(), False),
    (OSError(2, "No such file or directory"), False), (PermissionError(13, "Permission denied"), False),
    ("bad_sql", False),
])
def test_only_transient_errors_are_retried(exc, transient):
    """Every retry condition (extract, publish, the feedback tasks) says yes to a pause
    (a refused connection, a busy device) and no to everything else: a bad file or a bug
    fails at once."""
    from connectors.errors import SourceError
    from connectors.sql import TransientSourceError
    from flows.feedback_flow import build_packages, push_package
    from flows.reconcile_flow import extract, publish

    exc = {"transient_source": TransientSourceError("db#t", "the database refused the connection 3 times"),
           "connect_failed": _operational(None), "bad_sql": _operational("SELECT nonsense"),
           "bad_file": SourceError("ha.xlsx", "not a readable XLSX workbook")}.get(exc, exc) \
        if isinstance(exc, str) else exc
    for t in (extract, publish, build_packages, push_package):
        assert t.retry_condition_fn(t, None, _state(exc)) is transient, (t.name, exc)


def test_an_unexpected_error_in_a_reader_fails_at_once_and_reaches_the_caller(harness, tmp_path, monkeypatch):
    """The exception that reaches the CLI is the original one, not Prefect's wrapper, and it
    is not retried."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    import flows.reconcile_flow as rf

    def broken(location, spec):
        raise KeyError("a bug in a reader")

    monkeypatch.setattr(rf, "read_source", broken)
    monkeypatch.setattr(rf, "extract", rf.extract.with_options(retry_delay_seconds=0))
    state = rf.reconcile(ps_households=str(SAMPLE / "ps_households.csv"), ha_archive=str(SAMPLE / "ha_archive.xlsx"),
                         as_of=AS_OF, out=str(tmp_path), return_state=True)
    with pytest.raises(KeyError, match="a bug in a reader"):
        state.result()
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(
            any_=[state.state_details.flow_run_id])))
    assert [r.run_count for r in runs if r.name.startswith("extract")] == [1]
