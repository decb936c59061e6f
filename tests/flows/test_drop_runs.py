"""Nightly runs over a drop folder, through the reconcile flow: the export taken, a truncated
export held by the volume guard (last good outputs kept), then accepted by name."""
from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from schemas.guards import GuardHold

pytestmark = pytest.mark.slow
NIGHT1, NIGHT2 = date(2020, 8, 1), date(2020, 8, 2)
NAMES = {"ps_households": "扶贫对象_{:%Y%m%d}.parquet", "ps_members": "家庭成员_{:%Y%m%d}.parquet",
         "ha_archive": "农户档案导出_{:%Y-%m-%d}.parquet"}


def _drop(world: Path, drops: Path, night: date, half_ha: bool = False) -> None:
    for name, pattern in NAMES.items():
        frame = pd.read_parquet(world / f"{name}.parquet")
        if half_ha and name == "ha_archive":  # the export job died halfway
            frame = frame.iloc[: len(frame) // 2]
        frame.to_parquet(drops / name / pattern.format(night), index=False)


def _locations(drops: Path) -> dict[str, str]:
    spec = {"ps_households": "扶贫对象_{date:%Y%m%d}.parquet", "ps_members": "家庭成员_{date:%Y%m%d}.parquet",
            "ha_archive": "农户档案导出_{date:%Y-%m-%d}.parquet"}
    return {name: f"drop:{drops / name}?pattern={pattern}" for name, pattern in spec.items()}


def _bytes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def test_a_truncated_export_is_held_and_an_accepted_one_published(harness, tmp_path):
    from flows.reconcile_flow import reconcile
    from anju_synth import build_world, write_world

    world, drops, out = tmp_path / "world", tmp_path / "drops", tmp_path / "out"
    write_world(build_world(1500, seed=41), world, seed=41, fmt="parquet")
    for name in NAMES:
        (drops / name).mkdir(parents=True)
    _drop(world, drops, NIGHT1)
    first = reconcile(**_locations(drops), as_of=NIGHT1, out=str(out))
    taken = first["inputs"]["ha_archive"]["drop"]
    assert taken["file"] == "农户档案导出_2020-08-01.parquet" and taken["export_date"] == "2020-08-01"
    assert len(taken["sha256"]) == 64

    _drop(world, drops, NIGHT2, half_ha=True)
    before = _bytes(out / NIGHT1.isoformat())
    with pytest.raises(GuardHold) as held:
        reconcile(**_locations(drops), as_of=NIGHT2, out=str(out))
    assert "ha_archive rows" in str(held.value) and "--accept-change" in str(held.value)
    assert not (out / NIGHT2.isoformat()).exists()  # nothing published for the night
    assert _bytes(out / NIGHT1.isoformat()) == before  # the last good outputs untouched

    # the guard names each county it held ("522626: ha_archive rows 1,162 -> 581 (-50%)"): accept them
    accepted = sorted({part.split(":")[0].strip() for part in str(held.value).split(";")
                       if part.split(":")[0].strip().isdigit()})
    assert accepted
    second = reconcile(**_locations(drops), as_of=NIGHT2, out=str(out), accept_change=accepted)
    assert Path(second["published"]).exists()
    assert second["parameters"]["accept_change"] == accepted
    shutil.rmtree(drops)  # the drop folder moves on: a re-run of the date reads its kept copy
    again = reconcile(**_locations(drops), as_of=NIGHT2, out=str(out), accept_change=accepted)
    assert again["inputs"]["ha_archive"]["drop"]["sha256"] == second["inputs"]["ha_archive"]["drop"]["sha256"]
