"""The loop closes: apply the proposals to the exports, re-run, exactly those are resolved."""
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from reconcile.feedback import apply_corrections
from schemas import load_source_specs

pytestmark = pytest.mark.slow
AS_OF = date(2020, 7, 31)


def _run(src: Path, out: Path, **kw):
    from flows.reconcile_flow import reconcile

    return reconcile(ps_households=str(src / "ps_households.parquet"), ps_members=str(src / "ps_members.parquet"),
                     ha_archive=str(src / "ha_archive.parquet"), as_of=AS_OF, out=str(out), **kw)


def test_applying_the_packages_resolves_exactly_what_they_propose(harness, tmp_path):
    from flows import feedback_cmd
    from anju_synth import build_world, write_world

    src = tmp_path / "src"
    write_world(build_world(1500, seed=31), src, seed=31, fmt="parquet")
    out = tmp_path / "out"
    _run(src, out)
    summary = feedback_cmd.build(str(out), AS_OF)
    assert summary["ps"]["with_proposal"] > 0 and summary["ha"]["with_proposal"] > 0
    fb = out / "feedback" / AS_OF.isoformat()
    specs = load_source_specs()
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    proposed = set()
    for agency, name in (("ps", "ps_households"), ("ha", "ha_archive")):
        package = pd.read_parquet(fb / f"corrections_{agency}.parquet")
        proposed |= set(package.loc[package["建议值"].notna(), "discrepancy_id"])
        native = pd.read_parquet(src / f"{name}.parquet")
        apply_corrections(native, package, agency, specs).to_parquet(fixed / f"{name}.parquet", index=False)
    pd.read_parquet(src / "ps_members.parquet").to_parquet(fixed / "ps_members.parquet", index=False)

    # the same date, after the correction: resolving most of a county's problems at once is a
    # change the volume guard holds unless the officer accepts it by name
    counties = sorted(pd.read_parquet(out / AS_OF.isoformat() / "discrepancies.parquet")["county_code"].dropna().unique())
    _run(fixed, out, accept_change=counties)
    ledger = pd.read_parquet(out / AS_OF.isoformat() / "ledger.parquet")
    resolved = set(ledger.loc[ledger["status"] == "resolved", "discrepancy_id"])
    assert resolved == proposed
    assert set(ledger["status"]) <= {"new", "resolved"}  # nothing else moved
