"""Frames between the stages of a partitioned run, as Arrow files in a shared folder.

``reconcile.spread_plan`` hands frames from stage to stage through a mailbox; this one
keeps them on a disk every worker of the run sees (the run's own folder under ``OUT``),
so workers never send frames to each other or through the flow's process, and each holds
only what its own partition or bucket needs. Files are written whole under a temporary
name and then renamed, so a reader never sees half a file. Arrow's IPC format, not
Parquet: it keeps every type as pandas had it (a date in seconds stays in seconds), so a
frame read back is the frame that was written.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pyarrow import feather


class FileBox:
    """``put``/``take`` (frames sent to a partition or bucket) and ``keep``/``kept`` (a
    partition's own state), one file per frame: ``ROOT/stage/dest/src/name.arrow``."""

    def __init__(self, root: str | Path):
        self.root = str(root)

    def _write(self, folder: Path, frames: dict[str, pd.DataFrame]) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, frame in frames.items():
            feather.write_feather(pa.Table.from_pandas(frame), tmp / f"{name}.arrow", compression="lz4")
        shutil.rmtree(folder, ignore_errors=True)  # a retried stage writes its frames again
        os.rename(tmp, folder)

    @staticmethod
    def _read(folder: Path) -> dict[str, pd.DataFrame]:
        return {f.stem: feather.read_table(f).to_pandas() for f in sorted(folder.glob("*.arrow"))}

    def put(self, stage: str, outbox: dict[int, dict[str, pd.DataFrame]], src: int) -> None:
        for dest, frames in outbox.items():
            self._write(Path(self.root, stage, str(dest), str(src)), frames)

    def take(self, stage: str, dest: int) -> list[dict[str, pd.DataFrame]]:
        folder = Path(self.root, stage, str(dest))
        if not folder.is_dir():
            return []
        senders = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.endswith(".tmp")),
                         key=lambda p: int(p.name))
        return [self._read(p) for p in senders]

    def keep(self, stage: str, part: int, frames: dict[str, pd.DataFrame]) -> None:
        self._write(Path(self.root, "kept", stage, str(part)), frames)

    def kept(self, stage: str, part: int) -> dict[str, pd.DataFrame]:
        folder = Path(self.root, "kept", stage, str(part))
        return self._read(folder) if folder.is_dir() else {}

    def discard(self, stage: str) -> None:
        """A stage's mail (or ``kept/NAME``: a state) once no stage reads it: the run's
        folder holds a few stages' worth, not all of them."""
        shutil.rmtree(Path(self.root, stage), ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
