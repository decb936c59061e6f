"""Splink (DuckDB) on the same canonical frames, for the matching benchmark only.

Configured as a careful user would: normalized IDs compared with Damerau-Levenshtein
(typos and transpositions), names by exact, pinyin and Jaro-Winkler, village, size, and
the PS member roster as an array so a changed householder can be found; blocking on
ID, county + pinyin, county + birth date and on exploded member IDs; u by random
sampling, the prior from exact ID matches, m by EM. Each HA record keeps its best PS
candidate above 0.5.
"""
from __future__ import annotations

import logging

import pandas as pd

from reconcile.names import pinyin_keys


def _frame(df: pd.DataFrame, key: str, members: pd.DataFrame | None) -> pd.DataFrame:
    out = pd.DataFrame({
        "unique_id": df[key].astype(str), "householder_id": df["householder_id"].astype(str),
        "name": df["householder_name"].astype(str), "pinyin": pinyin_keys(df["householder_name"]).astype(str),
        "county": df["county_code"].astype(str), "village_code": df["village_code"].astype(str),
        "birth": df["householder_id"].astype(str).str[6:14], "household_size": df["household_size"].astype("float"),
    })
    if members is not None:
        roster = members.groupby("household_no")["id_no"].agg(lambda s: sorted(s.astype(str)))
        out["member_ids"] = out["unique_id"].map(roster)
        out["member_ids"] = out["member_ids"].where(out["member_ids"].notna(), out["householder_id"].map(lambda x: [x]))
    else:
        out["member_ids"] = out["householder_id"].map(lambda x: [x])
    return out


def run_splink(canon) -> pd.DataFrame:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    ps = _frame(canon.ps, "household_no", canon.members)
    ha = _frame(canon.ha, "archive_no", None)
    db = DuckDBAPI()
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("householder_id", [1, 2]),
            cl.ExactMatch("pinyin"),
            cl.JaroWinklerAtThresholds("name", [0.9, 0.75]),
            cl.ExactMatch("village_code"),
            cl.ExactMatch("household_size"),
            cl.ArrayIntersectAtSizes("member_ids", [1]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("householder_id"), block_on("county", "pinyin"), block_on("county", "birth"),
            block_on("member_ids", arrays_to_explode=["member_ids"]),
        ],
        retain_matching_columns=False,
    )
    linker = Linker([db.register(ps, table_name="ps"), db.register(ha, table_name="ha")], settings,
                    log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match([block_on("householder_id")], recall=0.85)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("county", "pinyin"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("householder_id"))
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    left_is_ps = pred["source_dataset_l"] == "ps"
    pairs = pd.DataFrame({
        "household_no": pred["unique_id_l"].where(left_is_ps, pred["unique_id_r"]),
        "archive_no": pred["unique_id_r"].where(left_is_ps, pred["unique_id_l"]),
        "score": pred["match_probability"],
    })
    pairs = pairs.sort_values(["score", "archive_no"], ascending=[False, True]).drop_duplicates("archive_no")
    return pairs
