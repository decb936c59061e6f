"""A run killed with SIGKILL at any stage boundary leaves the last good outputs, the store
and the lock as they were, and no process behind.

One good run is published first; then, for each boundary, a run over other inputs is paused
there (``ANJU_FAULT_PAUSE_AT=<stage>``) and its process alone is killed with ``kill -9``:
its children (Prefect's temporary server, the report worker) must go with it. A killed run
never publishes: before the store commits nothing changed; after the commit and before the
link swap the store holds the run as ``stored``, never ``published``, and the files still
show the last good run. A normal run at the end takes the lock and publishes.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

from tests.flows.test_cli import PREFECT_HOME

pytestmark = pytest.mark.slow
AS_OF = date(2020, 7, 31)
STAGES = ["extract", "normalize", "match", "classify", "unify", "validate", "commit", "stored"]


def _world(folder: Path, seed: int) -> Path:
    from anju_synth import build_world, write_world

    write_world(build_world(600, seed=seed), folder, seed=seed, fmt="parquet")
    return folder


def _counties(*worlds: Path) -> str:
    """Every county of these worlds: the runs over the second world replace the first one's
    whole, a change the volume guard would hold unless it is accepted by name."""
    from connectors import read_source
    from schemas import load_source_specs

    specs = load_source_specs()
    codes = {code[:6] for w in worlds for name in ("ps_households", "ha_archive")
             for code in read_source(w / f"{name}.parquet", specs[name]).frame["village_code"]}
    return ",".join(sorted(c for c in codes if len(c) == 6 and c.isdigit()))


def _start(src: Path, out: Path, env_extra: dict, accept: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_HOME": str(PREFECT_HOME), **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "reconcile", "--ps-households", str(src / "ps_households.parquet"),
         "--ps-members", str(src / "ps_members.parquet"), "--ha-archive", str(src / "ha_archive.parquet"),
         "--as-of", AS_OF.isoformat(), "--out", str(out), *(["--accept-change", accept] if accept else [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(proc: subprocess.Popen, text: str) -> None:
    seen = []
    for line in proc.stdout:  # the run pauses at the fault point, so the line comes or the run ends
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen)}")


def _snapshot(out: Path) -> tuple[Path, dict[str, str]]:
    live = (out / AS_OF.isoformat()).resolve()
    return live, {str(p.relative_to(live)): hashlib.sha256(p.read_bytes()).hexdigest()
                  for p in sorted(live.rglob("*")) if p.is_file()}


def _runs(out: Path) -> list[tuple[str, str]]:
    engine = sa.create_engine(f"sqlite:///{out / 'anju.sqlite'}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text("select run_id, status from runs order by run_id"))]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(out, other inputs, counties): the output folder holding one good run, a second world,
    and the counties of both (accepted by the volume guard)."""
    root = tmp_path_factory.mktemp("kill")
    good, other, out = _world(root / "a", 31), _world(root / "b", 32), root / "out"
    first = _start(good, out, {})
    log, _ = first.communicate(timeout=600)
    assert first.returncode == 0, log
    return out, other, _counties(good, other)


@pytest.mark.parametrize("stage", STAGES)
def test_kill_at_stage_boundary(published, stage):
    out, other, accept = published
    live, files = _snapshot(out)
    runs = _runs(out)

    victim = _start(other, out, {"ANJU_FAULT_PAUSE_AT": stage}, accept)
    _wait_for(victim, f"fault point {stage}")
    children = psutil.Process(victim.pid).children(recursive=True)
    assert children  # at least Prefect's temporary server
    os.kill(victim.pid, signal.SIGKILL)  # the run's process alone, as `kill -9 PID` does
    victim.wait()
    victim.stdout.close()
    _, alive = psutil.wait_procs(children, timeout=120)
    assert not alive, [(p.pid, p.cmdline()) for p in alive]

    assert _snapshot(out) == (live, files)  # the last good outputs, byte for byte
    after = _runs(out)
    assert [r for r in after if r[1] == "published"] == [r for r in runs if r[1] == "published"]
    new = sorted(set(after) - set(runs))
    if stage == "stored":  # committed, not swapped: kept as stored, never as published
        assert [status for _, status in new] == ["stored"]
    else:
        assert new == []


def test_a_normal_run_after_the_kills_takes_the_lock_and_publishes(published):
    out, other, accept = published
    live, _ = _snapshot(out)
    runs = _runs(out)
    again = _start(other, out, {}, accept)
    log, _ = again.communicate(timeout=600)
    assert again.returncode == 0, log
    assert (out / AS_OF.isoformat()).resolve() != live
    new = sorted(set(_runs(out)) - set(runs))
    assert [status for _, status in new] == ["published"]
    assert not list((out / ".runs" / AS_OF.isoformat()).glob("*.partial"))
