"""Publishing a run's outputs whole and atomically.

``<out>/<as_of>`` is a symbolic link to ``<out>/.runs/<as_of>/<run_id>``. A run writes its
files into a fresh folder beside the live one, then swaps the link with one
``rename(2)``: a reader resolves either the old run or the new one, never a mix, and a
run killed before the swap leaves the last good outputs in place (its half-written
folder is swept by the next run).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd

KEEP_PREVIOUS = 1  # earlier runs kept per as_of, so a reader mid-way through one is not cut off


class OutputError(Exception):
    """The output folder cannot be made or written (a path under a file, a read-only disk,
    no permission, no space). The message names the path and the system's reason."""


def prepare_out(out: Path) -> Path:
    """Make the output folder and prove it writable, before a run spends its time: a
    problem here is one line naming the path, not a traceback at the end of the run."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".anju-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        blocker = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else f"{e.filename or out}: {e.strerror or e}"
        raise OutputError(f"{out}: cannot write the output folder ({reason})") from None
    return out


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Deterministic Parquet: same frame, same bytes (no timestamps in the metadata; each
    column in one piece, so how the frame was put together, one table or many
    partitions' rows, does not change how its pages are cut)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).combine_chunks(), path, compression="zstd")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Staging:
    """A folder for one run's outputs that becomes ``<out>/<as_of>`` on :meth:`commit`.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> with Staging(out, "2020-07-31", "r1") as st:
    ...     _ = (st.path / "a.txt").write_text("x")
    ...     live = st.commit()
    >>> (out / "2020-07-31" / "a.txt").read_text()
    'x'
    """

    def __init__(self, out: Path, as_of: str, run_id: str):
        self.out, self.as_of, self.run_id = Path(out), as_of, run_id
        self.runs = self.out / ".runs" / as_of
        self.path = self.runs / f"{run_id}.partial"
        self.committed = False

    def __enter__(self) -> "Staging":
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            for stale in [*self.runs.glob("*.partial"), *self.runs.glob("*.exchange")]:  # left by a killed run
                shutil.rmtree(stale, ignore_errors=True)
            self.path.mkdir()
        except OSError as e:
            raise OutputError(f"{e.filename or self.path}: cannot write the output folder "
                              f"({e.strerror or e})") from None
        return self

    def write_table(self, name: str, frame: pd.DataFrame) -> Path:
        path = self.path / f"{name}.parquet"
        write_parquet(frame, path)
        return path

    def write_json(self, name: str, data: dict) -> Path:
        path = self.path / name
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return path

    def commit(self) -> Path:
        final = self.runs / self.run_id
        for f in self.path.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        os.rename(self.path, final)
        link = self.out / self.as_of
        tmp_link = self.out / f".{self.as_of}.{self.run_id}.link"
        os.symlink(os.path.relpath(final, self.out), tmp_link)
        if link.exists() and not link.is_symlink():  # a plain folder from a manual copy
            os.rename(link, self.runs / f"legacy-{self.run_id}")
        os.replace(tmp_link, link)
        _fsync_dir(self.out)
        self.committed = True
        self._prune(final)
        return link

    def _prune(self, current: Path) -> None:
        done = sorted((p for p in self.runs.iterdir() if p.is_dir() and p != current
                       and not p.name.endswith((".partial", ".exchange"))), key=lambda p: p.stat().st_mtime)
        for old in done[:-KEEP_PREVIOUS] if KEEP_PREVIOUS else done:
            shutil.rmtree(old, ignore_errors=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)
