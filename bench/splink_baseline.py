"""Splink (DuckDB) on the same canonical frames, for the matching benchmark only.

Splink is not an Anju dependency: it runs in its own venv, on frames the benchmark
dumps (``bench/match_bench.py --splink-python /work/splinkenv/bin/python``):

    python3 -m venv /work/splinkenv && /work/splinkenv/bin/pip install 'splink==5.*' pandas pyarrow
    /work/splinkenv/bin/python bench/splink_baseline.py DUMP_DIR   # writes DUMP_DIR/splink_pairs.parquet

Configured as a careful user would: normalized IDs compared with Damerau-Levenshtein
(typos and transpositions), names by exact, pinyin and Jaro-Winkler, village, size, and
the PS member roster as an array so a changed householder can be found; blocking on
ID, county + pinyin, county + birth date and on exploded member IDs; u by random
sampling, the prior from exact ID matches, m by EM. Each HA record keeps its best PS
candidate above 0.5.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path

import pandas as pd


def _frame(df: pd.DataFrame, key: str, members: pd.DataFrame | None) -> pd.DataFrame:
    out = pd.DataFrame({
        "unique_id": df[key].astype(str), "householder_id": df["householder_id"].astype(str),
        "name": df["householder_name"].astype(str), "pinyin": df["pinyin"].astype(str),  # computed by the benchmark (Anju's pinyin_keys)
        "county": df["county_code"].astype(str), "village_code": df["village_code"].astype(str),
        "birth": df["householder_id"].astype(str).str[6:14], "household_size": df["household_size"].astype("float"),
    })
    if members is not None:
        roster = members.groupby("household_no")["id_no"].agg(lambda s: sorted(s.astype(str)))
        names = members.groupby("household_no")["name"].agg(lambda s: sorted(s.astype(str)))
        out["member_ids"] = out["unique_id"].map(roster)
        out["member_ids"] = out["member_ids"].where(out["member_ids"].notna(), out["householder_id"].map(lambda x: [x]))
        out["member_names"] = out["unique_id"].map(names)
        out["member_names"] = out["member_names"].where(out["member_names"].notna(), out["name"].map(lambda x: [x]))
    else:
        out["member_ids"] = out["householder_id"].map(lambda x: [x])
        out["member_names"] = out["name"].map(lambda x: [x])
    return out


def _connection():
    """DuckDB with a memory cap and a spill folder when asked (a 1M run outgrows RAM otherwise).

    SPLINK_MEMORY_LIMIT (e.g. ``8GB``), SPLINK_THREADS and SPLINK_TEMP_DIR; unset, DuckDB's defaults.
    """
    import os

    import duckdb

    con = duckdb.connect()
    if os.environ.get("SPLINK_MEMORY_LIMIT"):
        con.execute(f"SET memory_limit = '{os.environ['SPLINK_MEMORY_LIMIT']}'")
    if os.environ.get("SPLINK_THREADS"):
        con.execute(f"SET threads = {int(os.environ['SPLINK_THREADS'])}")
    if os.environ.get("SPLINK_TEMP_DIR"):
        con.execute(f"SET temp_directory = '{os.environ['SPLINK_TEMP_DIR']}'")
    return con


def _either(cond: str) -> str:
    """A condition written for (l, r) and its mirror: which side is PS is the link order's business."""
    mirror = re.sub(r"\b(member_ids|member_names|householder_id|name)_([lr])\b",
                    lambda m: m.group(1) + ("_r" if m.group(2) == "l" else "_l"), cond)
    return f"(({cond}) OR ({mirror}))"


def run_splink(canon) -> pd.DataFrame:
    """``canon`` has ``ps``, ``ha`` (each with a ``pinyin`` column) and ``members``.

    The member roster is folded into the ID and name comparisons (an HA householder who
    is a PS roster member, or one typo from a member's ID, ranks just under an exact ID),
    because as separate array comparisons EM drowned them under "IDs differ".
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    ps = _frame(canon.ps, "household_no", canon.members)
    ha = _frame(canon.ha, "archive_no", None)
    for f in (ps, ha):
        f["householder_id"] = f["householder_id"].where(f["householder_id"].str.len() > 0)
    in_roster = _either("list_contains(member_ids_l, householder_id_r)")
    near_roster = _either("len(list_filter(member_ids_l, lambda x: damerau_levenshtein(x, householder_id_r) <= 1)) > 0")
    identity = cl.CustomComparison(output_column_name="identity", comparison_levels=[
        cll.NullLevel("householder_id"),
        cll.ExactMatchLevel("householder_id"),
        cll.CustomLevel(in_roster, "HA householder ID in the PS roster"),
        cll.DamerauLevenshteinLevel("householder_id", 1),
        cll.CustomLevel(near_roster, "one edit from a roster member's ID"),
        cll.CustomLevel("substr(householder_id_l, 1, 14) = substr(householder_id_r, 1, 14)", "same region and birth"),
        cll.DamerauLevenshteinLevel("householder_id", 2),
        cll.ElseLevel(),
    ])
    name = cl.CustomComparison(output_column_name="name", comparison_levels=[
        cll.NullLevel("name"),
        cll.ExactMatchLevel("name"),
        cll.CustomLevel(_either("list_contains(member_names_l, name_r)"), "HA name in the PS roster"),
        cll.ExactMatchLevel("pinyin"),
        cll.JaroWinklerLevel("name", 0.9),
        cll.JaroWinklerLevel("name", 0.75),
        cll.ElseLevel(),
    ])
    db = DuckDBAPI(_connection())
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[identity, name, cl.ExactMatch("village_code"), cl.ExactMatch("household_size")],
        blocking_rules_to_generate_predictions=[
            block_on("householder_id"), block_on("county", "pinyin"), block_on("county", "birth"),
            block_on("member_ids", arrays_to_explode=["member_ids"]),
            block_on("county", "member_names", arrays_to_explode=["member_names"]),
        ],
        retain_matching_columns=False,
    )
    linker = Linker([db.register(ps, table_name="ps"), db.register(ha, table_name="ha")], settings,
                    log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match([block_on("householder_id")], recall=0.85)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("county", "pinyin"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("village_code"))
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    left_is_ps = pred["source_dataset_l"] == "ps"
    pairs = pd.DataFrame({
        "household_no": pred["unique_id_l"].where(left_is_ps, pred["unique_id_r"]),
        "archive_no": pred["unique_id_r"].where(left_is_ps, pred["unique_id_l"]),
        "score": pred["match_probability"],
    })
    pairs = pairs.sort_values(["score", "archive_no"], ascending=[False, True]).drop_duplicates("archive_no")
    return pairs


class _Dump:
    def __init__(self, d: Path):
        self.ps = pd.read_parquet(d / "ps.parquet")
        self.ha = pd.read_parquet(d / "ha.parquet")
        self.members = pd.read_parquet(d / "members.parquet")


if __name__ == "__main__":
    dump = Path(sys.argv[1])
    canon = _Dump(dump)
    t = time.perf_counter()
    pairs = run_splink(canon)
    seconds = time.perf_counter() - t
    pairs.to_parquet(dump / "splink_pairs.parquet", index=False)
    print(json.dumps({"seconds": round(seconds, 2)}))
