"""The bundled sample reconciled once for the flow tests that only read a published run."""
from __future__ import annotations

import pytest

from tests.conftest import AS_OF, SAMPLE


def run_sample(out, flow=None, **kw) -> dict:
    from flows.reconcile_flow import reconcile

    return (flow or reconcile)(ps_households=str(SAMPLE / "ps_households.csv"),
                               ps_members=str(SAMPLE / "ps_members.csv"), ha_archive=str(SAMPLE / "ha_archive.xlsx"),
                               as_of=AS_OF, out=str(out), **kw)


@pytest.fixture(scope="package")
def published(harness, tmp_path_factory):
    """(out, run) of the sample as of AS_OF. Read it; do not publish into it."""
    out = tmp_path_factory.mktemp("published")
    return out, run_sample(out)
