"""Logs are structured (JSON lines on request) and carry no full ID number or name."""
from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from tests.conftest import SAMPLE
from tests.flows.test_cli import _anju
from tests.reconcile.builders import ID_A


def test_ids_are_masked_in_messages_and_tracebacks():
    from flows.runtime import RedactIds

    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(logging.Formatter().format(record))
    handler.addFilter(RedactIds())
    log = logging.getLogger("anju.test.redact")
    log.addHandler(handler)
    try:
        log.warning("householder %s has no archive record", ID_A)
        try:
            raise ValueError(f"bad row: {ID_A}")
        except ValueError:
            log.exception("could not read")
    finally:
        log.removeHandler(handler)
    text = "\n".join(seen)
    assert ID_A not in text
    assert text.count(ID_A[:6] + "********" + ID_A[-4:]) == 2


@pytest.mark.slow
def test_a_run_logs_json_lines_without_ids_or_names(tmp_path):
    r = _anju("--log-format", "json", "reconcile", "--ps-households", str(SAMPLE / "ps_households.csv"),
              "--ps-members", str(SAMPLE / "ps_members.csv"), "--ha-archive", str(SAMPLE / "ha_archive.xlsx"),
              "--as-of", "2020-07-31", "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]  # every line is JSON
    assert len(records) > 10
    stages = {rec.get("message", rec["msg"]).split(":")[0] for rec in records if rec["name"] == "prefect.task_runs"}
    assert {"extract ps_households", "normalize", "classify", "gate", "publish"} <= stages
    assert all(rec["flow_run_id"] for rec in records if rec["name"] in ("prefect.task_runs", "prefect.flow_runs"))

    live = tmp_path / "out" / "2020-07-31"
    people = pd.concat([pd.read_parquet(live / f"records_{a}.parquet")[["householder_id", "householder_name"]]
                        for a in ("ps", "ha")])
    ids = people["householder_id"].dropna()
    names = people["householder_name"].dropna()
    logs = r.stderr + r.stdout
    assert not [i for i in ids[ids.str.len() >= 15] if i in logs]
    assert not [n for n in names[names.str.len() >= 2].unique() if n in logs]
