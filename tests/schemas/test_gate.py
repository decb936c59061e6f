"""The publishing gate (Great Expectations): each expectation passes on a consistent run and
fails on the smallest broken one, naming itself."""
from __future__ import annotations

import pandas as pd
import pytest

from connectors.datadocs import run_gate
from reconcile.gate import gate_frames
from reconcile.masking import mask_full_ids
from reconcile.report import analyst_view
from schemas.gate import expectations_for, load_suites
from tests.reconcile.builders import published_world


@pytest.fixture(scope="module")
def world():
    return published_world()


def failures(tables, accounting, view=None) -> list[str]:
    view = analyst_view(tables["discrepancies"]) if view is None else view
    outcome = run_gate(gate_frames(tables, view, accounting), docs=None, mask_ids=mask_full_ids)
    return [f["expectation"] for f in outcome.failed]


def test_the_world_is_what_the_cases_assume(world):
    tables, _ = world
    assert sorted(tables["discrepancies"]["rule"]) == ["HA_MISSING", "PS_MISSING"]
    assert tables["matches"][["household_no", "archive_no"]].values.tolist() == [["H1", "A1"]]
    assert tables["other_groups"]["archive_no"].tolist() == ["A3"]


def test_a_consistent_run_passes_every_expectation(world):
    tables, accounting = world
    outcome = run_gate(gate_frames(tables, analyst_view(tables["discrepancies"]), accounting), docs=None,
                       mask_ids=mask_full_ids)
    assert outcome.success, outcome.failed
    declared = sum(len(expectations_for(s, gate_frames(tables, analyst_view(tables["discrepancies"]),
                                                        accounting)[s.name])) for s in load_suites())
    assert outcome.evaluated == declared


def _dup_first(frame):
    return pd.concat([frame, frame.iloc[:1]], ignore_index=True)


BREAKS = {
    "matches: expect_column_values_to_be_unique(archive_no)":
        lambda t: {"matches": _dup_first(t["matches"]).assign(household_no=["H1", "H2"])},
    # a match to a record that does not exist; the real record is then left without an outcome
    "matches: expect_column_values_to_be_in_set(ps_record_exists)|ps_fate: expect_column_values_to_not_be_null(fate)":
        lambda t: {"matches": t["matches"].assign(household_no="H9")},
    "matches: expect_column_values_to_be_in_set(ha_record_exists)|ha_fate: expect_column_values_to_not_be_null(fate)":
        lambda t: {"matches": t["matches"].assign(archive_no="A9")},
    "matches: expect_column_values_to_be_between(score)": lambda t: {"matches": t["matches"].assign(score=1.5)},
    "discrepancies: expect_column_values_to_be_unique(discrepancy_id)":
        lambda t: {"discrepancies": t["discrepancies"].assign(discrepancy_id="0" * 16)},
    # the HA_MISSING row loses its rule, so H2 also loses its outcome
    "discrepancies: expect_column_values_to_not_be_null(rule)|ps_fate: expect_column_values_to_not_be_null(fate)":
        lambda t: {"discrepancies": t["discrepancies"].assign(rule=pd.Series([None, "PS_MISSING"], dtype="string"))},
    "unified: expect_column_values_to_be_unique(unified_id)":
        lambda t: {"unified": t["unified"].assign(unified_id="U1")},
    "unified: expect_column_values_to_be_between(match_score)":
        lambda t: {"unified": t["unified"].assign(match_score=-0.5)},
    "ledger: expect_column_values_to_be_unique(discrepancy_id)": lambda t: {"ledger": _dup_first(t["ledger"])},
    "records_ps: expect_column_values_to_be_unique(household_no)":
        lambda t: {"records_ps": t["records_ps"].assign(household_no="H1")},
    "records_ha: expect_column_values_to_be_unique(archive_no)":
        lambda t: {"records_ha": _dup_first(t["records_ha"])},
    # H2 loses its HA_MISSING row: a PS household with no outcome
    "ps_fate: expect_column_values_to_not_be_null(fate)":
        lambda t: {"discrepancies": t["discrepancies"][t["discrepancies"]["rule"] != "HA_MISSING"]},
    # A3 is no longer listed among the other priority groups
    "ha_fate: expect_column_values_to_not_be_null(fate)":
        lambda t: {"other_groups": t["other_groups"].iloc[:0]},
    "progress: expect_column_values_to_be_between(completion_rate)":
        lambda t: {"progress": t["progress"].assign(completion_rate=1.2)},
}


@pytest.mark.parametrize("expected", list(BREAKS))
def test_each_expectation_fails_on_its_broken_frame_and_names_itself(world, expected):
    tables, accounting = world
    broken = {**tables, **BREAKS[expected](tables)}
    assert sorted(failures(broken, accounting)) == sorted(expected.split("|"))


def test_rows_that_are_neither_used_nor_quarantined_fail_the_accounting(world):
    tables, accounting = world
    lost = accounting.assign(rows_read=[3, 3])  # one PS row read and never accounted for
    assert failures(tables, lost) == ["accounting: expect_column_pair_values_to_be_equal(rows_read/rows_accounted)"]


@pytest.mark.parametrize("leak", ["522425198001010014", "522425800101001", "5.22425198001010E+17"])
def test_a_full_id_in_what_analysts_read_fails_the_gate(world, leak):
    tables, accounting = world
    view = analyst_view(tables["discrepancies"])
    view.iloc[0, view.columns.get_loc("农户档案值")] = leak
    assert failures(tables, accounting, view) == ["analyst_view: expect_column_values_to_not_match_regex(农户档案值)"]
    disc = tables["discrepancies"].copy()
    disc["message"] = disc["message"] + "（身份证 " + leak + "）"
    # the reports mask it (analyst_view); a message in the file that holds one still fails
    assert failures({**tables, "discrepancies": disc}, accounting) == [
        "analyst_text: expect_column_values_to_not_match_regex(message)"]


def _unexpected_records(frame: pd.DataFrame, column: str, regex: str) -> list:
    """What GX reports of the values failing a not-match-regex expectation over ``frame``."""
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    ctx = gx.get_context(mode="ephemeral")
    batch = ctx.data_sources.add_pandas("t").add_dataframe_asset("f").add_batch_definition_whole_dataframe("b")
    suite = ctx.suites.add(gx.ExpectationSuite(name="s", expectations=[
        get_expectation_impl("expect_column_values_to_not_match_regex")(column=column, regex=regex)]))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name="s", data=batch, suite=suite))
    result = vd.run(batch_parameters={"dataframe": frame[[column]]},
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": 3})
    return result.results[0].result["partial_unexpected_index_list"]


def test_a_failed_privacy_check_names_table_column_and_record_masked(world):
    """Issue 14.8: the gate's frames are indexed by record (IDs in a key masked), so the
    failed expectation (table and column in its label) lists which records hold the ID."""
    tables, accounting = world
    disc = tables["discrepancies"].copy()
    row = disc.index[disc["rule"] == "PS_MISSING"][0]
    disc.loc[row, "message"] = "身份证 522425198001010014"
    frames = gate_frames({**tables, "discrepancies": disc}, analyst_view(disc), accounting)
    did = disc.loc[row, "discrepancy_id"]
    assert frames["analyst_text"].index[row] == f"discrepancy_id={did} archive_no=A2"
    assert frames["analyst_view"].index.equals(frames["analyst_text"].index)
    assert frames["ps_fate"].index.tolist() == ["household_no=H1", "household_no=H2"]
    regex = next(e.kwargs["regex"] for e in expectations_for(load_suites()[-1], frames["analyst_text"]))
    records = _unexpected_records(frames["analyst_text"], "message", regex)
    assert [r["record"] for r in records] == [f"discrepancy_id={did} archive_no=A2"]
    # a record key that is itself an ID is named masked
    keyed = {**tables, "records_ps": tables["records_ps"].assign(household_no=["522425198001010014", "H2"])}
    assert gate_frames(keyed, analyst_view(disc), accounting)["records_ps"].index[0] == \
        "household_no=522425********0014"


def test_masked_ids_and_long_record_numbers_pass_the_privacy_check(world):
    tables, accounting = world
    view = analyst_view(tables["discrepancies"])
    view["农户档案值"] = ["522425********0014", "5206280000000001"]  # masked ID; a 16-digit household number
    assert failures(tables, accounting, view) == []


def test_the_volume_guard_is_a_group_of_its_own_not_run_by_the_publishing_gate():
    gate = {s.name for s in load_suites()}
    guards = {s.name for s in load_suites("guards")}
    assert guards == {"county_rows", "column_fill", "resolved_share"}
    assert not gate & guards
