"""Golden discrepancy ids: the ledger's contract with the past.

A discrepancy id is how the ledger recognises a problem it saw in an earlier run (new,
still open, resolved, reopened). The ids below were computed once from the code of
commit f7caf2f and are written out literally: any change to the recipe (the hash, its
key, the parts, their order, the separator, how a missing part is written) fails here,
because every ledger already in a store would see all its problems as resolved and
all of them again as new.
"""
from __future__ import annotations

import pandas as pd

from reconcile.discrepancies import stable_ids
from tests.reconcile.builders import ID_B, ID_C, ha, make_id, ps, run


def s(*values) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def test_recipe_gives_the_recorded_ids():
    ids = stable_ids([s("HA_MISSING", "PS_MISSING", "IDENTITY_CONFLICT", "INVALID_ID", "DUPLICATE"),
                      s("H1", None, "5224251002010001", "H4", "H5"),
                      s(None, "DA522425000001", "DA522425000002", None, ""),
                      s(None, None, "householder_name", "householder_id", None)])
    assert ids.tolist() == ["86328b4719a30b8c", "7de03ae29ce26821", "8b44f1c43aafb8da", "36bb908ceda1675f",
                            "bfec937cb51b61ba"]


def test_one_part_and_non_ascii_text():
    assert stable_ids([s("户主", "張三|x")]).tolist() == ["58fb72f3956cdd74", "8fa1aa0b099dd6c5"]


def test_missing_part_is_written_as_empty():
    a = stable_ids([s("DUPLICATE"), s("H5"), s(None), s(None)])
    b = stable_ids([s("DUPLICATE"), s("H5"), s(""), s("")])
    assert a.tolist() == b.tolist() == ["bfec937cb51b61ba"]


def test_ids_are_16_lowercase_hex_digits_and_keep_the_index():
    ids = stable_ids([pd.Series(["R"], index=[7], dtype="string"), pd.Series(["H"], index=[7], dtype="string")])
    assert ids.index.tolist() == [7] and ids.str.fullmatch(r"[0-9a-f]{16}").all()


def test_a_small_run_publishes_the_recorded_ids():
    """Fixed records through the whole core: the same discrepancy and unified ids."""
    t = run([ps(), ps(household_no="H2", householder_name="李四", householder_id=ID_B, village_code="522425100202"),
             ps(household_no="H3", householder_name="王五", householder_id=ID_C, household_size="4",
                housing_secured="否")],
            [ha(archive_no="A3", householder_name="王五", householder_id=ID_C),
             ha(archive_no="A9", householder_name="孙七", householder_id=make_id("52242519700505005"))])
    found = t.discrepancies[["discrepancy_id", "rule", "household_no", "archive_no", "field"]].astype(object)
    assert found.where(found.notna(), None).values.tolist() == [
        ["86328b4719a30b8c", "HA_MISSING", "H1", None, None],
        ["df9552c170323841", "HA_MISSING", "H2", None, None],
        ["e0aa8e408202c302", "IDENTITY_CONFLICT", "H3", "A3", "household_size"],
        ["a98526764bb56580", "PS_MISSING", None, "A9", None],
        ["81cc531dae54b7ed", "SECURED_CONFLICT", "H3", "A3", "housing_secured"],
    ]
    unified = t.unified[["unified_id", "household_no", "archive_no"]].astype(object)
    assert unified.where(unified.notna(), None).values.tolist() == [
        ["4c2e8012338ec7a6", "H2", None], ["4db378c200aedd80", "H3", "A3"],
        ["baaf7c12b1528c74", "H1", None], ["bd9060c1a2d30439", None, "A9"]]
