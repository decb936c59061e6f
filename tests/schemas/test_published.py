"""Published-table contracts: a passing frame and a failing one for each model."""
import pandas as pd
import pytest

from schemas.published import PublishGateError, validate_published
from tests.reconcile.builders import ha, ps, run


@pytest.fixture(scope="module")
def tables():
    t = run([ps(housing_secured="否"), ps(household_no="H2", householder_id="")], [ha()])
    return {"matches": t.matches, "discrepancies": t.discrepancies, "unified": t.unified, "quarantine": t.quarantine}


def test_tables_of_a_run_pass(tables):
    validate_published(tables)


@pytest.mark.parametrize("table, column, value, check", [
    ("matches", "score", 1.5, "less_than_or_equal_to"),
    ("matches", "method", "guess", "isin"),
    ("discrepancies", "rule", "NOT_A_RULE", "isin"),
    ("discrepancies", "county_code", "52", "str_matches"),
    ("unified", "renovation_status", "done", "isin"),
])
def test_broken_table_is_refused_with_the_failed_check(tables, table, column, value, check):
    broken = {**tables, table: tables[table].copy()}
    broken[table][column] = pd.Series([value] * len(broken[table]), index=broken[table].index).astype(
        broken[table][column].dtype)
    with pytest.raises(PublishGateError) as e:
        validate_published(broken)
    assert table in str(e.value) and check in str(e.value)


def test_duplicate_match_of_one_ha_record_is_refused(tables):
    m = pd.concat([tables["matches"], tables["matches"]], ignore_index=True)
    with pytest.raises(PublishGateError, match="unique"):
        validate_published({**tables, "matches": m})


def test_matches_publish_their_explanation_columns(tables):
    # issue 15: every match says why; a match table without those columns breaks the contract.
    assert {"weights", "explanation"} <= set(tables["matches"].columns)
    with pytest.raises(PublishGateError, match="explanation"):
        validate_published({**tables, "matches": tables["matches"].drop(columns=["explanation"])})
    bad = tables["matches"].assign(weights="not json")
    with pytest.raises(PublishGateError, match="weights"):
        validate_published({**tables, "matches": bad})
