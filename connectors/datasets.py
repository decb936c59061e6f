"""Sources as folders of Parquet files (one file per county, province or any group), read
whole or one partition at a time.

A source's folder holds Parquet files at any depth (``520628.parquet``,
``province=52/county=520628/part-0.parquet``); their order is their path's order. Row
numbers run on through the files in that order, so a row has the same number whether the
folder is read whole (one process) or a few files at a time (a partition of a national
run), and the quarantine names the same row either way. The same relative path in each
source's folder is one *unit* (a county's households, its members and its archive);
units are packed, in path order, into partitions of about ``partition_records`` rows.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from connectors.source_frame import SourceFrame
from connectors.sources import SourceError, read_parquet, sha256_file

SUFFIXES = (".parquet", ".pq")


def dataset_files(folder: Path) -> list[Path]:
    """The Parquet files of a source folder, in path order."""
    found = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not found:
        raise SourceError(str(folder), "a folder with no Parquet file in it",
                          expected="a folder of .parquet files, one per county or province")
    return found


def file_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception as e:  # noqa: BLE001  (pyarrow raises several kinds)
        raise SourceError(str(path), f"not a readable Parquet file ({type(e).__name__}: {e})",
                          expected="a Parquet file") from None


@dataclass(frozen=True)
class FilePiece:
    path: str
    offset: int   # rows of the folder's earlier files: this file's row 1 is the folder's row offset + 1
    rows: int


def pieces(folder: Path) -> list[FilePiece]:
    out, offset = [], 0
    for path in dataset_files(folder):
        n = file_rows(path)
        out.append(FilePiece(str(path), offset, n))
        offset += n
    return out


def read_pieces(found: list[FilePiece], spec, location: str) -> SourceFrame:
    """The given files of one source as one frame, rows numbered within the whole folder."""
    frames, skipped, unknown = [], [], []
    for piece in found:
        src = read_parquet(Path(piece.path), spec)
        src.frame["_row"] = src.frame["_row"] + piece.offset
        frames.append(src.frame)
        skipped += [{**s, "row": s["row"] + piece.offset} if isinstance(s, dict) and "row" in s else s
                    for s in src.meta.get("skipped_rows", [])]
        unknown += [c for c in src.meta.get("unknown_columns", []) if c not in unknown]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"_row": pd.Series(dtype="int64")})
    return SourceFrame(frame, {"format": "parquet dataset", "skipped_rows": skipped, "rejected_rows": [],
                               "unknown_columns": unknown, "location": location,
                               "rows_read": len(frame), "files": len(found)})


def folder_digest(found: list[FilePiece], root: Path) -> str:
    """sha256 over each file's relative path and sha256: the folder's content, in order."""
    h = hashlib.sha256()
    for piece in found:
        h.update(f"{Path(piece.path).relative_to(root).as_posix()}\0{sha256_file(Path(piece.path))}\n".encode())
    return h.hexdigest()


def read_dataset(folder: Path, spec) -> SourceFrame:
    """A whole source folder (what one process reads)."""
    found = pieces(folder)
    src = read_pieces(found, spec, str(Path(folder).resolve()))
    src.meta["sha256"] = folder_digest(found, Path(folder))
    return src


@dataclass(frozen=True)
class PartitionSlice:
    """One partition's files of every folder source and range of every database source:
    called on a worker, it reads them (the loader ``reconcile.spread_plan`` expects)."""
    files: tuple[tuple[str, tuple[FilePiece, ...]], ...]   # (source, its pieces)
    mapping: str | None = None
    ranges: tuple[tuple[str, str, object], ...] = ()      # (source, location, connectors.sql_ranges.KeyRange)
    absent: tuple[str, ...] = ()                           # sources none of whose rows are here

    def __call__(self) -> tuple[dict[str, pd.DataFrame], dict]:
        from schemas.config import load_source_specs

        specs = load_source_specs(self.mapping)
        raw = {source: read_pieces(list(found), specs[source], source).frame for source, found in self.files}
        for source in self.absent:  # a source with no rows in this partition: none of its rows
            raw[source] = read_pieces([], specs[source], source).frame
        if self.ranges:
            from connectors.sql import read_db

            raw.update({source: read_db(location, specs[source], part=part).frame
                        for source, location, part in self.ranges})
        return raw, {}


def plan_partitions(sources: dict[str, Path | str], partition_records: int,
                    mapping: str | None = None) -> tuple[list[PartitionSlice], dict]:
    """The sources cut into partitions of about ``partition_records`` households and
    archive records (members ride along): a folder into whole units (a unit: one relative
    path in every folder), each database table into as many ranges of its key as there
    are partitions (``connectors.sql_ranges``); and what was found (files or ranges, rows
    and digest per source, for run.json). Partition ``i`` reads the ``i``-th group of
    units and the ``i``-th range of each table."""
    from connectors.sql import is_db_location

    tables = {name: str(loc) for name, loc in sources.items() if is_db_location(str(loc))}
    folders = {name: Path(loc) for name, loc in sources.items() if name not in tables}
    by_source = {name: pieces(Path(folder)) for name, folder in folders.items()}
    rows = {name: sum(p.rows for p in found) for name, found in by_source.items()}
    if tables:
        from connectors.sql_ranges import count_rows, plan_ranges
        from schemas.config import load_source_specs

        specs = load_source_specs(mapping)
        rows.update({name: count_rows(location, specs[name]) for name, location in tables.items()})
    for name, n in rows.items():
        if name != "ps_members" and not n:
            from connectors.sql import parse_location

            where = parse_location(tables[name]).display if name in tables else str(folders[name])
            raise SourceError(where, "no data rows in it",
                              expected=f"rows of {name} (a folder's Parquet files or a table)")
    units: dict[str, dict[str, FilePiece]] = {}
    for name, found in by_source.items():
        for piece in found:
            units.setdefault(Path(piece.path).relative_to(folders[name]).as_posix(), {})[name] = piece
    groups: list[list[str]] = []
    size = 0
    for unit in sorted(units):
        n = sum(p.rows for s, p in units[unit].items() if s != "ps_members")
        if not groups or size + n > partition_records:
            groups.append([])
            size = 0
        groups[-1].append(unit)
        size += n
    keyed = sum(n for name, n in rows.items() if name != "ps_members")  # folders' and tables' alike
    ranges, found_db = {}, {}
    for name, location in tables.items():
        ranges[name], found_db[name] = plan_ranges(location, specs[name],
                                                   max(len(groups), -(-keyed // partition_records), 1), rows[name])
    n = max([len(groups), *map(len, ranges.values())])
    slices = [PartitionSlice(tuple((name, tuple(units[u][name] for u in groups[i] if name in units[u]))
                                   for name in sorted(folders)) if i < len(groups) else (), mapping,
                             tuple((name, tables[name], ranges[name][i]) for name in sorted(tables)
                                   if i < len(ranges[name])),
                             tuple(sorted([*(folders if i >= len(groups) else ()),
                                           *(t for t in tables if i >= len(ranges[t]))])))
              for i in range(n)]
    found = {name: {"location": str(Path(folders[name]).resolve()), "format": "parquet dataset",
                    "files": len(p), "rows_read": rows[name],
                    "sha256": folder_digest(p, Path(folders[name]))} for name, p in by_source.items()}
    found.update(found_db)
    return slices, {name: found[name] for name in sources}


# --- published tables as datasets: TABLE/province=PP/county=CCCCCC/part-NNNNN.parquet ----------------

NO_COUNTY = "none"  # rows without a county (a quarantined row whose village code does not read)


def write_share(folder: Path, name: str, frame: pd.DataFrame, part: int) -> dict[str, int]:
    """One partition's rows of a published table, a file per county; rows per county."""
    from connectors.publish import write_parquet

    county = frame["county_code"].astype("string").fillna(NO_COUNTY) if len(frame) else pd.Series(dtype="string")
    written = {}
    for code in sorted(county.unique()):
        rows = frame[(county == code).to_numpy()].reset_index(drop=True)
        province = code[:2] if code != NO_COUNTY else NO_COUNTY
        target = Path(folder, name, f"province={province}", f"county={code}")
        target.mkdir(parents=True, exist_ok=True)
        write_parquet(rows, target / f"part-{part:05d}.parquet")
        written[code] = len(rows)
    return written


def share_files(folder: Path, name: str, province: str | None = None, counties: list[str] | None = None) -> list[Path]:
    """The files of a published table (one province's, or some counties'), in path order."""
    base = Path(folder, name)
    if counties is not None:
        found = [f for c in sorted(counties)
                 for f in base.glob(f"province={c[:2] if c != NO_COUNTY else NO_COUNTY}/county={c}/*.parquet")]
    else:
        found = list(base.glob(f"province={province or '*'}/county=*/*.parquet"))
    return sorted(found)


def read_shares(files: list[Path]) -> pd.DataFrame:
    """Files of one table as one frame (an empty frame without any file), in the types the
    frame had when written (Parquet keeps a date in seconds as milliseconds)."""
    import pyarrow.parquet as pq

    frames = [pd.read_parquet(f, engine="pyarrow") for f in files]
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames, ignore_index=True)
    for col in (pq.read_schema(files[0]).pandas_metadata or {}).get("columns", []):
        name, kind = col.get("name"), str(col.get("numpy_type"))
        if name in frame and kind.startswith("datetime64[") and str(frame[name].dtype) != kind:
            frame[name] = frame[name].astype(kind)
    return frame


def provinces(folder: Path, name: str) -> list[str]:
    return sorted(p.name.split("=", 1)[1] for p in Path(folder, name).glob("province=*") if p.is_dir())


def counties_in(folder: Path, name: str) -> list[str]:
    return sorted(p.name.split("=", 1)[1] for p in Path(folder, name).glob("province=*/county=*")
                  if p.is_dir() and not p.name.endswith(NO_COUNTY))


def write_ordered(files: list[Path], keys: list[str], target: Path) -> int:
    """Files of one table as one Parquet file, rows ordered by ``keys`` (empty first),
    byte for byte what ``publish.write_parquet`` writes of the same rows in that order.
    In Arrow, not pandas: a province's table in about twice its size, not four or five
    times (a worker of 2 GB writes a province of 500,000 households)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    table = table.take(pc.sort_indices(table, options=pc.SortOptions(
        sort_keys=[(k, "ascending", "at_start") for k in keys])))
    table = _pandas_units(table).combine_chunks()
    pq.write_table(table, target, compression="zstd")
    return table.num_rows


def _pandas_units(table):
    """Dates back in the unit the frame had (Parquet stores seconds as milliseconds)."""
    import pyarrow as pa

    for col in (table.schema.pandas_metadata or {}).get("columns", []):
        name, kind = col.get("name"), str(col.get("numpy_type"))
        if kind.startswith("datetime64[") and name in table.schema.names:
            want = pa.timestamp(kind[len("datetime64["):-1])
            i = table.schema.get_field_index(name)
            if table.schema.field(i).type != want:
                table = table.set_column(i, table.schema.field(i).with_type(want), table.column(i).cast(want))
    return table
