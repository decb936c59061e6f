"""Each run leaves Prefect artifacts: a markdown summary (counts only) and links to its outputs."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import AS_OF

pytestmark = pytest.mark.slow


def test_summary_and_links_are_published_with_the_run(published):
    from prefect.artifacts import Artifact

    out, run = published
    summary = Artifact.get("reconcile-summary")
    text = summary.data
    assert text.startswith(f"# Anju reconcile {AS_OF}")
    disc = pd.read_parquet(out / AS_OF.isoformat() / "discrepancies.parquet")
    for rule, n in disc["rule"].value_counts().items():  # per-rule counts, as published
        assert f"| {rule} |" in text and f"| {n:,} |" in text
    for county in disc["county_code"].unique():
        assert f"| {county} |" in text
    assert f"new {len(disc):,}" in text  # first run: everything is new

    records = pd.concat([pd.read_parquet(out / AS_OF.isoformat() / f"records_{a}.parquet") for a in ("ps", "ha")])
    names = records["householder_name"].dropna()
    ids = records["householder_id"].dropna()
    assert not any(i in text for i in ids[ids.str.len() >= 15])
    assert not any(n in text for n in names[names.str.len() >= 2])

    live = (out / AS_OF.isoformat()).absolute()
    assert f"({(live / 'report.html').as_uri()})" in Artifact.get("reconcile-report").data  # a markdown link
    assert f"({live.as_uri()})" in Artifact.get("reconcile-outputs").data

