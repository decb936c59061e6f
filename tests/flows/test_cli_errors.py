"""Every failure a person can cause ends in ONE line ``anju: error: ...`` naming what to fix,
exit 2, no traceback; Anju's own bugs end in ``anju: internal error: ...`` with the traceback
in a log file. The commands run as scripts call them (a subprocess), except the internal
error, which needs a bug injected."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, SAMPLE
from tests.flows.test_cli import PREFECT_HOME

SOURCES = ["--ps-households", str(SAMPLE / "ps_households.csv"), "--ha-archive", str(SAMPLE / "ha_archive.xlsx"),
           "--as-of", "2020-07-31"]


def _anju(*args, cwd=ROOT):
    env = {**os.environ, "PREFECT_HOME": str(PREFECT_HOME)}
    return subprocess.run([sys.executable, "-m", "flows.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def one_error_line(r) -> str:
    """The single ``anju: error:`` line of a failed command, after checking the rest."""
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
    lines = [line for line in r.stderr.splitlines() if line.startswith("anju: error:")]
    assert len(lines) == 1, r.stderr[-3000:]
    assert r.stderr.rstrip().splitlines()[-1] == lines[0]  # the last word is the error
    return lines[0]


@pytest.mark.parametrize("url, server", [("postgresql+psycopg2://postgres@127.0.0.1:1/x", "127.0.0.1:1"),
                                          ("mysql+pymysql://root@127.0.0.1:1/x", "127.0.0.1:1")])
def test_unreachable_store(tmp_path, url, server):
    line = one_error_line(_anju("reconcile", *SOURCES, "--out", tmp_path / "out", "--store", url))
    assert "store" in line and server in line


def test_output_folder_under_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    line = one_error_line(_anju("reconcile", *SOURCES, "--out", tmp_path / "file" / "out"))
    assert str(tmp_path / "file") in line


def test_output_folder_that_is_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    line = one_error_line(_anju("reconcile", *SOURCES, "--out", tmp_path / "file"))
    assert str(tmp_path / "file") in line


def test_output_folder_nobody_may_write(tmp_path):
    """Tests run as root, so chmod cannot forbid a write: /proc refuses new folders to anyone."""
    line = one_error_line(_anju("reconcile", *SOURCES, "--out", "/proc/anju-out"))
    assert "/proc/anju-out" in line


def test_feedback_push_to_an_unreachable_database(tmp_path):
    folder = tmp_path / "feedback" / "2020-07-31"
    folder.mkdir(parents=True)
    cols = ["户编号", "档案编号", "discrepancy_id", "rule", "severity", "county_code", "column", "字段", "当前值",
            "建议值", "依据", "原因"]
    pd.DataFrame([dict.fromkeys(cols, "x")]).to_parquet(folder / "corrections_ps.parquet")
    line = one_error_line(_anju("feedback", "push", "--agency", "ps", "--url",
                                "postgresql+psycopg2://postgres@127.0.0.1:1/x", "--table", "anju.corrections",
                                "--out", tmp_path, "--as-of", "2020-07-31"))
    assert "127.0.0.1:1" in line


def test_progress_for_a_month_with_no_run(tmp_path):
    line = one_error_line(_anju("progress", "--month", "2020-05", "--out", tmp_path))
    assert "no published run on or before 2020-05-31" in line and str(tmp_path) in line


def test_serve_with_a_missing_settings_file(tmp_path):
    line = one_error_line(_anju("serve", "--settings", tmp_path / "anju.yaml"))
    assert str(tmp_path / "anju.yaml") in line


def test_own_bug_is_one_line_and_a_traceback_in_a_log_file(tmp_path, monkeypatch, capsys):
    import flows.cli as cli

    def bug(args, tty=False):
        raise KeyError("a bug in anju")

    monkeypatch.setattr(cli, "cmd_reconcile", bug)
    code = cli.main(["reconcile", *SOURCES, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERNAL and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("anju: ")]
    assert line.startswith("anju: internal error: KeyError: 'a bug in anju' (traceback in ")
    log = Path(line.rsplit("(traceback in ", 1)[1].rstrip(")"))
    assert log.parent == tmp_path / ".logs"
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "in bug" in text


def test_own_bug_with_an_unusable_output_folder_logs_to_a_temp_dir(tmp_path, monkeypatch, capsys):
    import flows.cli as cli

    monkeypatch.setattr(cli, "cmd_generate", lambda args: 1 / 0)
    (tmp_path / "file").write_text("x")
    assert cli.main(["generate", "--households", "5", "--out", str(tmp_path / "file")]) == cli.EXIT_INTERNAL
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("anju: ")]
    log = Path(line.rsplit("(traceback in ", 1)[1].rstrip(")"))
    assert "ZeroDivisionError" in line and log.exists() and not log.is_relative_to(tmp_path)


def test_value_error_from_a_library_is_not_called_a_user_error(tmp_path, monkeypatch, capsys):
    """A ValueError raised inside pandas is a bug of ours, not bad input."""
    import flows.cli as cli

    monkeypatch.setattr(cli, "cmd_generate", lambda args: pd.Timestamp("not a date"))
    assert cli.main(["generate", "--households", "5", "--out", str(tmp_path)]) == cli.EXIT_INTERNAL
    assert "anju: internal error: " in capsys.readouterr().err
