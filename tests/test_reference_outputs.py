"""The same outputs, byte for byte, as the stored reference (issues 16 and 20).

The bundled sample (one date) and a generated 3,000-household world with dirt (three
month ends, so the ledger has new, open, resolved and reopened items) are reconciled
with the current code and every published table is compared with the canonical copy
in ``tests/reference/`` (see ``regenerate.py`` there for the form and for how to
regenerate it on purpose). A failure names the first differing table, row and column.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.reference.regenerate import HERE, canonical, published_bytes, read_stored, run_all, runs

pytestmark = pytest.mark.slow
DATES = [(name, as_of.isoformat()) for name, steps in runs().items() for as_of, *_ in steps]


def first_difference(table: str, want, got) -> str | None:
    """None when equal, else where they first differ: table, row, column, both values."""
    if want == got:
        return None
    if isinstance(want, dict) or isinstance(got, dict):
        return json_difference(table, want, got)
    w, g = list(csv.reader(io.StringIO(want))), list(csv.reader(io.StringIO(got)))
    if not w or not g or w[0] != g[0]:
        return f"{table}: columns differ: reference {w[0] if w else []} now {g[0] if g else []}"
    header = w[0]
    for i, (rw, rg) in enumerate(zip(w[1:], g[1:]), start=1):
        if rw != rg:
            col = next(j for j, (a, b) in enumerate(zip(rw, rg)) if a != b)
            return (f"{table}: row {i} (published order, 1-based), column {header[col]!r}: "
                    f"reference {rw[col]!r}, now {rg[col]!r}; row reference {dict(zip(header, rw))}")
    return f"{table}: {len(w) - 1} rows in the reference, {len(g) - 1} now (the common rows are equal)"


def json_difference(table: str, want, got, path: str = "") -> str | None:
    if isinstance(want, dict) and isinstance(got, dict):
        for k in list(want) + [k for k in got if k not in want]:
            if k not in got or k not in want:
                return f"{table}: key {path}{k} only in the {'reference' if k in want else 'new output'}"
            found = json_difference(table, want[k], got[k], f"{path}{k}.")
            if found:
                return found
        return None
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (a, b) in enumerate(zip(want, got)):
            found = json_difference(table, a, b, f"{path}[{i}].")
            if found:
                return found
        return None
    return None if want == got else f"{table}: {path.rstrip('.')}: reference {want!r}, now {got!r}"


@pytest.fixture(scope="module")
def outputs(harness, tmp_path_factory) -> dict[str, Path]:
    return run_all(tmp_path_factory.mktemp("reference_runs"))


@pytest.fixture(scope="module")
def published(outputs) -> dict[tuple[str, str], dict[str, object]]:
    return {(name, as_of): canonical(outputs[name], as_of) for name, as_of in DATES}


@pytest.mark.parametrize("name,as_of", DATES, ids=[f"{n}-{d}" for n, d in DATES])
def test_published_tables_match_the_reference(published, name, as_of):
    want, got = read_stored(name, as_of), published[(name, as_of)]
    assert sorted(got) == sorted(want), f"{name} {as_of}: published files differ from the reference"
    # schema first: a changed type would otherwise show as a confusing value difference
    problems = [first_difference(f"{name}/{as_of}/{t}", want[t], got[t])
                for t in ["schema.json", *sorted(set(want) - {"schema.json"})]]
    problems = [p for p in problems if p]
    assert not problems, "differs from tests/reference (regenerate.py, if meant):\n" + "\n".join(problems)


def test_published_files_are_byte_identical(outputs):
    """The Parquet files and the HTML report, byte for byte (sha256). With equal values
    above, a difference here is in the encoding: types, metadata, row groups, compression."""
    want = json.loads((HERE / "bytes.json").read_text(encoding="utf-8"))
    versions = want.pop("versions")
    got = {f"{name}/{as_of}": published_bytes(outputs[name], as_of) for name, as_of in DATES}
    differ = [f"{key}/{f}" for key in want for f in sorted(set(want[key]) | set(got.get(key, {})))
              if want[key].get(f) != got.get(key, {}).get(f)]
    assert not differ, f"not byte-identical to the reference (written with {versions}): {differ}"


def test_the_comparison_names_the_first_difference():
    """A changed value is reported with its table, row and column."""
    text = "discrepancy_id,rule,status\nd1,HA_MISSING,new\nd2,PS_MISSING,new\n"
    changed = text.replace("d2,PS_MISSING,new", "d2,PS_MISSING,open")
    assert first_difference("t", text, text) is None
    assert first_difference("ledger", text, changed).startswith("ledger: row 2 (published order, 1-based), "
                                                                 "column 'status': reference 'new', now 'open'")
    assert "2 rows in the reference, 1 now" in first_difference("t", text, text.rsplit("d2", 1)[0])
    assert first_difference("run.json", {"a": {"b": 1}}, {"a": {"b": 2}}) == "run.json: a.b: reference 1, now 2"
