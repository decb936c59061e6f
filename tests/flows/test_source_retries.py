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

