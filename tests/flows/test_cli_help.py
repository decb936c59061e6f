"""Every subcommand and option of ``anju`` says what it is for; usage errors exit 2.

Also: the bare ``prefect`` command, run from the repository root as the README says,
reads Anju's ``prefect.toml`` and so neither phones home nor logs a telemetry error.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser) of the top-level parser and every subcommand, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, path + (name,))


def options(parser: argparse.ArgumentParser):
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def test_every_option_of_every_command_has_help():
    missing = [f"anju {' '.join(path)} {'/'.join(a.option_strings)}"
               for path, parser in commands(build_parser()) for a in options(parser)
               if not a.help or a.help == argparse.SUPPRESS]
    assert missing == []


def test_every_subcommand_has_help():
    missing = []
    for path, parser in commands(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {c.dest for c in action._choices_actions if c.help}
                missing += [f"anju {' '.join(path + (n,))}" for n in action.choices if n not in helped]
    assert missing == []


@pytest.mark.parametrize("path", [p for p, _ in commands(build_parser())], ids=lambda p: " ".join(p) or "anju")
def test_help_lists_every_option_with_its_text(path, capsys):
    parser = dict(commands(build_parser()))[path]
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*path, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for a in options(parser):
        assert a.option_strings[-1] in text
        assert " ".join(str(a.help).split("%(default)s")[0].split()[:3]) in text


def _anju(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("args", [
    [],                                                                     # no command
    ["frobnicate"],                                                         # unknown command
    ["generate", "--out", "x"],                                             # a required option missing
    ["generate", "--households", "many", "--out", "x"],                     # not a number
    ["generate", "--households", "0", "--out", "x"],                        # not a positive number
    ["generate", "--households", "5", "--out", "x", "--format", "csv"],     # not a choice
    ["feedback"],                                                           # no subcommand
    ["progress", "--out", "x", "--month", "2020-13"],                       # not a month
    ["reconcile", "--ps-households", "a", "--ha-archive", "b", "--as-of", "2020-07-31", "--out", "o",
     "--partition-records", "-1"],                                          # not a positive number
    ["reconcile", "--ps-households", "a", "--ha-archive", "b", "--as-of", "2020-07-31", "--out", "o",
     "--report-url", "reports.example/anju"],                               # not an http(s) URL
    ["serve", "--settings", "s.yaml", "--no-such-option"],                  # unknown option
], ids=lambda a: " ".join(a) or "nothing")
def test_usage_errors_exit_2_with_one_error_line(args):
    r = _anju(*args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("anju") and ": error: " in lines[-1]
    assert [line for line in lines if ": error: " in line] == [lines[-1]]
    assert "Traceback" not in r.stderr and r.stdout == ""


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """What a fresh login shell has: no PREFECT_* and no DO_NOT_TRACK."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    return {**keep, "HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / ".prefect")}


def test_bare_prefect_from_the_repository_root_has_analytics_off(tmp_path):
    prefect = str(Path(sys.executable).with_name("prefect"))
    env = _clean_env(tmp_path)
    version = subprocess.run([prefect, "version"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert version.returncode == 0, version.stderr
    assert "telemetry" not in (version.stdout + version.stderr).lower()
    view = subprocess.run([prefect, "config", "view", "--show-sources"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert view.returncode == 0, view.stderr
    assert "PREFECT_SERVER_ANALYTICS_ENABLED='False' (from prefect.toml)" in view.stdout
    assert "telemetry" not in view.stderr.lower()
    # The server the README starts (`prefect server start`) sees the same setting.
    check = subprocess.run([sys.executable, "-c", "from prefect.settings import get_current_settings as s; "
                            "print(s().server.analytics_enabled)"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert check.stdout.strip() == "False", check.stderr
