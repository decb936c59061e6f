"""The ``anju`` command as scripts call it: from any working directory."""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SAMPLE


# One Prefect home for every command these tests start: its database is created once,
# not once per test (the commands run one after another).
PREFECT_HOME = Path(tempfile.mkdtemp(prefix="anju-test-prefect-"))
atexit.register(shutil.rmtree, PREFECT_HOME, ignore_errors=True)


def _anju(*args, cwd):
    env = {**os.environ, "PREFECT_HOME": str(PREFECT_HOME)}
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_reconcile_from_another_directory_with_relative_paths(tmp_path):
    rel = os.path.relpath(SAMPLE, tmp_path)
    r = _anju("reconcile", "--ps-households", f"{rel}/ps_households.csv", "--ps-members", f"{rel}/ps_members.csv",
              "--ha-archive", f"{rel}/ha_archive.xlsx", "--as-of", "2020-07-31", "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "matches" in r.stdout and "HA_MISSING" in r.stdout
    assert (tmp_path / "out" / "2020-07-31" / "unified.parquet").exists()


def test_bad_date_is_a_clear_usage_error(tmp_path):
    r = _anju("reconcile", "--ps-households", "a.csv", "--ha-archive", "b.xlsx", "--as-of", "31/07/2020",
              "--out", "o", cwd=tmp_path)
    assert r.returncode == 2 and "expected YYYY-MM-DD" in r.stderr


def test_generate_is_deterministic_for_a_seed(tmp_path):
    for d in ("a", "b"):
        r = _anju("generate", "--households", "300", "--seed", "5", "--out", d, "--format", "parquet", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    for name in ("ps_households", "ps_members", "ha_archive"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / f"{name}.parquet"),
                                      pd.read_parquet(tmp_path / "b" / f"{name}.parquet"))
    assert (tmp_path / "a/truth/discrepancies.csv").read_bytes() == (tmp_path / "b/truth/discrepancies.csv").read_bytes()


@pytest.mark.slow
def test_bad_input_is_one_clear_message_without_traceback(tmp_path):
    (tmp_path / "ha.xlsx").write_bytes(b"not a workbook")
    r = _anju("reconcile", "--ps-households", str(SAMPLE / "ps_households.csv"), "--ha-archive", "ha.xlsx",
              "--as-of", "2020-07-31", "--out", "out", cwd=tmp_path)
    assert r.returncode == 2
    assert "anju: error: " in r.stderr and "ha.xlsx: not a readable XLSX workbook" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
