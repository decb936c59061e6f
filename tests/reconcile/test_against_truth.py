"""The whole core on a generated world, scored against its ground truth."""
from datetime import date

import pandas as pd
import pytest

from reconcile import pipeline
from tests.conftest import precision_recall

RULES = ["DANGER_CONFLICT", "DATE_ANOMALY", "DUPLICATE", "EXITED_UNSECURED", "HA_MISSING", "HOUSEHOLDER_CHANGED",
         "IDENTITY_CONFLICT", "INVALID_ID", "METHOD_CONFLICT", "PS_MISSING", "RENOVATION_OVERDUE", "SECURED_CONFLICT",
         "SUBSIDY_MISSING", "TARGET_TYPE_CONFLICT"]
KINDS = ["clean", "householder_changed", "id_empty", "id_excel", "id_spelling", "id_transposition", "id_typo",
         "legacy15", "name_homophone", "name_spaced", "name_traditional", "size_diff", "village_recoded",
         "dup_lost_id", "id_excel_rounded", "householder_changed_typo"]  # the last three: issue 15


@pytest.fixture(scope="module")
def tables(world_raw, specs):
    return pipeline.run(world_raw, specs, pipeline.Settings(as_of=date(2020, 7, 31)))


def test_matches_precision_and_recall(tables, world_files):
    truth = pd.read_csv(world_files / "truth" / "pairs.csv", dtype=str)
    p, r = precision_recall(tables.matches, truth, ["household_no", "archive_no"])
    print(f"\nmatch precision {p:.4f} recall {r:.4f} ({len(tables.matches)} pairs, {len(truth)} true)")
    assert p >= 0.9995 and r >= 0.999


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_dirt_is_matched(tables, world_files, kind):
    truth = pd.read_csv(world_files / "truth" / "pairs.csv", dtype=str)
    t = truth[truth["identity"] == kind]
    assert len(t) > 0
    _, r = precision_recall(tables.matches, t, ["household_no", "archive_no"])
    assert r >= 0.98, f"{kind}: recall {r:.4f}"


@pytest.mark.parametrize("rule", RULES)
def test_rule_precision_recall(tables, world_files, rule):
    truth = pd.read_csv(world_files / "truth" / "discrepancies.csv", dtype=str)
    found = tables.discrepancies[tables.discrepancies["rule"] == rule]
    p, r = precision_recall(found, truth[truth["rule"] == rule], ["household_no", "archive_no"])
    print(f"\n{rule}: precision {p:.4f} recall {r:.4f}")
    assert p >= 0.99 and r >= 0.99


def test_every_record_lands_in_exactly_one_place(tables, world_raw):
    u, q = tables.unified, tables.quarantine
    ps_used = len(world_raw["ps_households"]) - (q["source"] == "ps_households").sum()
    ha_used = len(world_raw["ha_archive"]) - (q["source"] == "ha_archive").sum()
    assert u["in_ps"].sum() == ps_used
    assert u["ha_records"].sum() + len(tables.other_groups) == ha_used
