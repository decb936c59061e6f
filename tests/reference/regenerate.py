"""The stored reference outputs, and how to regenerate them on purpose.

``tests/test_reference_outputs.py`` reruns the runs below with the current code and
compares every published table with the canonical copy stored here. Regenerate only
when an output is meant to change (say why in the commit), and from clean committed
code, never from a half-edited working tree::

    git clone -q /work/main /tmp/anju_ref && cd /tmp/anju_ref
    PYTHONPATH=/tmp/anju_ref /work/main/.venv/bin/python tests/reference/regenerate.py
    # check that the clone was imported (the script prints reconcile's file), then copy:
    cp -r tests/reference/sample tests/reference/world tests/reference/bytes.json /work/main/tests/reference/

The inputs of the generated world live in ``inputs/world/`` so the reference does not
depend on the generator; ``--new-world`` writes them again with the generator
(``anju generate --households 3000 --seed 16 --format parquet``) and derives the
second date's HA export from it (``derive_second_export``).

Canonical form: one CSV per Parquet table (gzipped without a time stamp: about 2 MB
instead of 14; ``zdiff`` or ``git diff`` with ``.gitattributes``' textconv show the
text), rows and columns as published, nulls as ``<NA>``, floats as ``repr``, nested
values as JSON; the column types in
``schema.json``; ``run.json`` without the keys that differ between two runs of the
same inputs (run id, clock times, seconds, library versions) and with the output and
input folders as ``<OUT>`` and ``<INPUTS>``. Two runs of the same inputs were checked
to publish byte-identical Parquet files, so ``bytes.json`` keeps their sha256 too.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import re
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "data" / "sample"
WORLD = HERE / "inputs" / "world"
NA = "<NA>"
RUN_ID = re.compile(r"\b[0-9]{8}-[0-9a-f]{12}\b")  # flows.reconcile_flow: f"{as_of:%Y%m%d}-{uuid4().hex[:12]}"
PUBLISHED_EXTRA = ("progress.csv",)  # published non-Parquet tables kept verbatim
BYTE_FILES = ("report.html",)  # identical from run to run, compared by sha256 only
# run.json keys that differ between two runs of the same inputs
VOLATILE = (("run_id",), ("started_at",), ("finished_at",), ("seconds",), ("versions",),
            ("guards", "seconds"), ("gate", "seconds"))


def world_counties() -> list[str]:
    import pandas as pd

    codes = pd.read_parquet(WORLD / "ha_archive.parquet", columns=["村级区划代码"])["村级区划代码"]
    return sorted(codes.dropna().str[:6].unique().tolist())


def runs() -> dict[str, list[tuple[date, dict[str, Path], dict]]]:
    """Each reference: its runs in order, into one output folder (one store, one ledger).

    The world is reconciled as of three month ends: the generated exports, then a month
    later with the HA export changed (new, open and resolved ledger items), then the first
    exports again (reopened items); that last change is large enough for the volume guard
    to hold it, so it is accepted for every county, as an operator would."""
    sample = {"ps_households": SAMPLE / "ps_households.csv", "ps_members": SAMPLE / "ps_members.csv",
              "ha_archive": SAMPLE / "ha_archive.xlsx"}
    first = {n: WORLD / f"{n}.parquet" for n in ("ps_households", "ps_members", "ha_archive")}
    second = {**first, "ha_archive": WORLD / "ha_archive_2020-08-31.parquet"}
    return {"sample": [(date(2020, 7, 31), sample, {})],
            "world": [(date(2020, 7, 31), first, {}), (date(2020, 8, 31), second, {}),
                      (date(2020, 9, 30), first, {"accept_change": world_counties()})]}


def run_all(out_root: Path) -> dict[str, Path]:
    """Run every reference with the imported code; the caller provides a Prefect API."""
    from flows.reconcile_flow import reconcile

    outs = {}
    for name, steps in runs().items():
        out = out_root / name
        for as_of, inputs, settings in steps:
            reconcile(ps_households=str(inputs["ps_households"]), ps_members=str(inputs["ps_members"]),
                      ha_archive=str(inputs["ha_archive"]), as_of=as_of, out=str(out), **settings)
        outs[name] = out
    return outs


def cell(v) -> str:
    if v is None:
        return NA
    if isinstance(v, float):
        return NA if math.isnan(v) else repr(v)
    if isinstance(v, (str, bool, int)):
        return str(v)
    if hasattr(v, "tolist"):  # numpy arrays and scalars
        v = v.tolist()
        if not isinstance(v, (list, dict)):
            return cell(v)
    if isinstance(v, (list, dict, tuple)):
        return json.dumps(v, ensure_ascii=False, default=str)
    try:
        import pandas as pd

        if pd.isna(v):
            return NA
    except (TypeError, ValueError):
        pass
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def placeholders(text: str, out: Path) -> str:
    """Folders and run ids (this run's and the earlier runs' it names) as placeholders."""
    text = (text.replace(str(out), "<OUT>").replace(str(WORLD), "<INPUTS>").replace(str(SAMPLE), "<SAMPLE>"))
    return RUN_ID.sub("<RUN_ID>", text)


def table_rows(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """(schema [[column, arrow type]], rows [[header...], [cells...]...]) of a Parquet table."""
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    schema = [[f.name, str(f.type)] for f in t.schema]
    cols = [[cell(v) for v in t.column(i).to_pylist()] for i in range(t.num_columns)]
    return schema, [t.column_names] + [list(r) for r in zip(*cols)]


def canonical_run_json(path: Path, out: Path) -> dict:
    record = json.loads(path.read_text(encoding="utf-8"))
    for keys in VOLATILE:
        node = record
        for k in keys[:-1]:
            node = node.get(k, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and keys[-1] in node:
            node[keys[-1]] = "<VOLATILE>"
    return json.loads(placeholders(json.dumps(record, ensure_ascii=False, indent=1), out))


def canonical(out: Path, as_of: str) -> dict[str, object]:
    """Everything compared for one published date: {file name: content}."""
    import csv
    import io

    folder = out / as_of
    found: dict[str, object] = {}
    schema = {}
    for p in sorted(folder.glob("*.parquet")):
        schema[p.stem], rows = table_rows(p)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        found[f"{p.stem}.csv"] = placeholders(buf.getvalue(), out)
    found["schema.json"] = schema
    for name in PUBLISHED_EXTRA:
        if (folder / name).exists():
            found[name] = placeholders((folder / name).read_text(encoding="utf-8-sig"), out)
    found["run.json"] = canonical_run_json(folder / "run.json", out)
    return found


def read_stored(name: str, as_of: str) -> dict[str, object]:
    """The stored canonical copy of one published date, keyed as ``canonical`` keys it."""
    found: dict[str, object] = {}
    for p in sorted((HERE / name / as_of).iterdir()):
        if p.suffix == ".gz":
            found[p.name[:-3]] = gzip.decompress(p.read_bytes()).decode("utf-8")
        elif p.suffix == ".json":
            found[p.name] = json.loads(p.read_text(encoding="utf-8"))
    return found


def published_bytes(out: Path, as_of: str) -> dict[str, str]:
    folder = out / as_of
    files = sorted(folder.glob("*.parquet")) + [folder / n for n in BYTE_FILES if (folder / n).exists()]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def write_reference(outs: dict[str, Path], dest: Path) -> None:
    import pandas as pd
    import pyarrow as pa

    digests: dict = {"versions": {"pandas": pd.__version__, "pyarrow": pa.__version__}}
    for name, steps in runs().items():
        shutil.rmtree(dest / name, ignore_errors=True)
        for as_of, *_ in steps:
            d = dest / name / as_of.isoformat()
            d.mkdir(parents=True)
            for fname, content in canonical(outs[name], as_of.isoformat()).items():
                if isinstance(content, str):  # a table: gzip without a time stamp, so equal tables, equal bytes
                    with open(d / f"{fname}.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                                            filename="", compresslevel=9) as gz:
                        gz.write(content.encode("utf-8"))
                else:
                    (d / fname).write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            digests[f"{name}/{as_of.isoformat()}"] = published_bytes(outs[name], as_of.isoformat())
    (dest / "bytes.json").write_text(json.dumps(digests, indent=1) + "\n", encoding="utf-8")


def derive_second_export(first: Path, second: Path) -> None:
    """The HA export a month later: some renovations completed, some determinations
    withdrawn, some records gone, so the ledger sees new, open and resolved items."""
    import pandas as pd

    ha = pd.read_parquet(first)
    todo = ha.index[ha["任务年度"].fillna("").ne("") & ha["竣工日期"].fillna("").eq("")][:40]
    ha.loc[todo, "竣工日期"] = "2020-08-20"
    ha.loc[ha.index[100:130], "住房安全有保障认定结果"] = "未保障"
    ha = ha.drop(ha.index[200:225])
    ha.to_parquet(second, index=False, compression="zstd", compression_level=19)


def new_world() -> None:
    import pyarrow.parquet as pq

    from flows.cli import main as anju

    with tempfile.TemporaryDirectory() as tmp:
        assert anju(["generate", "--households", "3000", "--seed", "16", "--format", "parquet", "--out", tmp]) == 0
        WORLD.mkdir(parents=True, exist_ok=True)
        for n in ("ps_households", "ps_members", "ha_archive"):
            pq.write_table(pq.read_table(Path(tmp) / f"{n}.parquet"), WORLD / f"{n}.parquet",
                           compression="zstd", compression_level=19)
    derive_second_export(WORLD / "ha_archive.parquet", WORLD / "ha_archive_2020-08-31.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--new-world", action="store_true", help="write inputs/world/ again with the generator")
    ap.add_argument("--dest", type=Path, default=HERE, help="where to write the reference (this folder)")
    args = ap.parse_args()
    import reconcile

    print(f"code under reference: {Path(reconcile.__file__).parent}", file=sys.stderr)
    if args.new_world:
        new_world()
    import flows.runtime  # noqa: F401  (offline defaults before Prefect loads)
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=90):
        write_reference(run_all(Path(tmp)), args.dest)


if __name__ == "__main__":
    main()
