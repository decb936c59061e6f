"""The manual flows: ``rerun`` for some counties after a correction, ``feedback`` to build and push packages."""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import AS_OF, SAMPLE
from tests.flows.conftest import run_sample

pytestmark = pytest.mark.slow


def test_rerun_flow_redoes_only_the_given_counties(harness, tmp_path):
    from flows.rerun_flow import rerun

    full = run_sample(tmp_path)
    before = pd.read_parquet(tmp_path / AS_OF.isoformat() / "discrepancies.parquet")
    county = sorted(before["county_code"].unique())[0]
    r = rerun(counties=[county], as_of=AS_OF, ps_households=str(SAMPLE / "ps_households.csv"),
              ps_members=str(SAMPLE / "ps_members.csv"), ha_archive=str(SAMPLE / "ha_archive.xlsx"),
              out=str(tmp_path))
    assert r["scope"] == county and r["run_id"] != full["run_id"]
    assert r["inputs"]["ps_households"]["rows_out_of_scope"] > 0
    after = pd.read_parquet(tmp_path / AS_OF.isoformat() / "discrepancies.parquet")
    others = lambda d: d[d["county_code"] != county].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(others(after), others(before))


def test_rerun_flow_refuses_a_county_that_is_not_a_code(harness, tmp_path):
    from prefect.exceptions import ParameterTypeError

    from flows.rerun_flow import rerun

    with pytest.raises(ParameterTypeError, match="pattern"):
        rerun(counties=["5224"], as_of=AS_OF, ps_households="x.csv", ha_archive="y.xlsx", out=str(tmp_path))
    with pytest.raises(ParameterTypeError):
        rerun(counties=[], as_of=AS_OF, ps_households="x.csv", ha_archive="y.xlsx", out=str(tmp_path))
    assert not (tmp_path / AS_OF.isoformat()).exists()


def test_feedback_flow_builds_and_pushes(published, tmp_path):
    from flows.feedback_flow import PushTarget, feedback

    out, _ = published
    url = f"sqlite:///{tmp_path / 'ps_staging.sqlite'}"
    r = feedback(out=str(out), as_of=AS_OF, push=[PushTarget(agency="ps", url=url, table="anju_corrections")])
    package = pd.read_parquet(out / "feedback" / AS_OF.isoformat() / "corrections_ps.parquet")
    assert r["ps"]["corrections"] == len(package) > 0
    assert r["pushed"] == {"ps:anju_corrections": len(package)}
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM anju_corrections")).scalar() == len(package)
