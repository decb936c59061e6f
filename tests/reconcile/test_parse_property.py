"""Property (issue 14): whatever lands in any cell of any source, ``pipeline.normalize``
raises nothing, accounts for every row (rows in = rows used + rows quarantined, per
source), gives a quarantine of the one column list with no full ID in it, and canonical
frames that pass their pandera models.

Each example starts from valid rows (``builders``) and overwrites random cells of every
source with hostile text: numbers out of range or out of float, impossible dates, control
characters, 10,000-character cells, IDs alone or inside other text; plus rows a reader
rejected as malformed.
"""
from __future__ import annotations

import re
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile import pipeline
from reconcile.parse import PER_VALUE, QUARANTINE_COLUMNS
from schemas import load_source_specs
from schemas.frames import CANONICAL
from schemas.gate import full_id_pattern
from tests.reconcile.builders import HA, ID_A, ID_B, ID_C, MEMBER, PS, raw_frame

SPECS = load_source_specs()
SETTINGS = pipeline.Settings(as_of=date(2020, 7, 31))
FULL_ID = re.compile(full_id_pattern())
IDS = [ID_A, ID_B, ID_C]
BASE = {
    "ps_households": [{**PS, "household_no": f"H{i}", "householder_id": ident} for i, ident in enumerate(IDS)],
    "ha_archive": [{**HA, "archive_no": f"A{i}", "householder_id": ident} for i, ident in enumerate(IDS)],
    "ps_members": [{**MEMBER, "household_no": f"H{i}", "id_no": ident} for i, ident in enumerate(IDS)],
}
CELLS = [(source, col.name) for source in BASE for col in SPECS[source].columns]
HOSTILE = ["", "   ", "\x00", "a\x00b", "\x1b[2J", "inf", "-inf", "nan", "NaN", "1e400", "-1", "0", "1e308",
           "99999999999999999999999", "3.5", "0000-00-00", "9999-99-99", "2020-02-30", "99999-01-01", "0001-01-01",
           "99991231", "00000", "x" * 10_000, "1" * 10_000, "５２２４２５", "=1+1", "\u200b", "未脱贫", "已脱贫", "是",
           "A级", "建档立卡贫困户", "522425100201", "5.22425198001010E+17", "522425800101001", "H0", "A0"]

full_ids = st.from_regex(r"[0-9]{6}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}[0-9X]", fullmatch=True)
cell_values = st.one_of(
    st.sampled_from(HOSTILE), st.sampled_from(IDS), st.none(),
    st.text(max_size=24),  # any code point but lone surrogates, control characters included
    st.tuples(st.text(max_size=4), full_ids, st.text(max_size=4)).map("".join),  # an ID inside other text
)
edits = st.lists(st.tuples(st.sampled_from(CELLS), st.integers(0, 2), cell_values), max_size=20)
rejected_rows = st.dictionaries(
    st.sampled_from(list(BASE)),
    st.lists(st.fixed_dictionaries({"row": st.integers(1, 10_000), "reason": st.just("9 fields, header has 8"),
                                    "text": st.one_of(st.text(max_size=80),
                                                      full_ids.map(lambda i: f"H9,522425100201,张三,{i},3"))}),
             max_size=2),
    max_size=2)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=edits, rejected=rejected_rows)
def test_hostile_cells_never_abort_and_every_row_is_accounted_for(edits, rejected):
    rows = {source: [dict(r) for r in base] for source, base in BASE.items()}
    for (source, column), i, value in edits:
        rows[source][i][column] = value
    raw = {source: raw_frame(r) for source, r in rows.items()}

    canon = pipeline.normalize(raw, SPECS, SETTINGS, rejected=rejected)

    q = canon.quarantine
    assert set(QUARANTINE_COLUMNS) <= set(q.columns)
    used = {"ps_households": len(canon.ps), "ha_archive": len(canon.ha), "ps_members": len(canon.members)}
    quarantined = q["source"].value_counts()
    for source in BASE:
        rows_in = len(raw[source]) + len(rejected.get(source, []))
        assert rows_in == canon.rows_read[source] == used[source] + quarantined.get(source, 0), source
    for column in QUARANTINE_COLUMNS:
        for value in q[column].dropna().astype(str):
            assert not FULL_ID.search(value), (column, value)
    assert q["row_number"].ge(1).all() and q["reason"].str.len().gt(0).all()
    for key, frame in (("ps", canon.ps), ("ha", canon.ha), ("members", canon.members)):
        CANONICAL[key].validate(frame, lazy=True)


PER_VALUE_COLUMNS = [(source, col) for source in BASE for col in SPECS[source].columns
                     if col.parse.partition(":")[0] in PER_VALUE]


@settings(max_examples=60, deadline=None)
@given(column=st.sampled_from(PER_VALUE_COLUMNS),
       cells=st.lists(st.one_of(cell_values, st.sampled_from(["2020-05-31", "2020/5/31", "43982", "3", "1,200元",
                                                                "522425100201", "是", "否"])), max_size=12),
       repeat=st.integers(1, 4), storage=st.sampled_from(["pyarrow", "python"]))
def test_parsing_each_distinct_value_once_gives_each_rows_answer(column, cells, repeat, storage):
    """A column parsed a distinct value at a time (``_per_value``) reads exactly as parsed
    whole: values, types, the rows found bad, on the column's own index."""
    import pandas as pd

    from reconcile.parse import _parse_column, _parse_values

    source, col = column
    s = pd.Series(cells * repeat, dtype=pd.StringDtype(storage), index=[i * 2 + 1 for i in range(len(cells) * repeat)])
    kind, _, arg = col.parse.partition(":")
    got, want = _parse_column(col, s, SETTINGS.as_of), _parse_values(col, s, kind, arg, SETTINGS.as_of)
    pd.testing.assert_frame_equal(got.values, want.values, check_exact=True)
    pd.testing.assert_series_equal(got.bad, want.bad, check_exact=True, check_names=False)
    assert (got.problem, got.reason) == (want.problem, want.reason)
