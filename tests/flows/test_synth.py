"""The generator makes every kind of dirt it promises, and a truth that holds together."""
import pandas as pd
import pytest

from flows.synth import build_world, render
from flows.synth.scenario import IDENTITY, STATUS
from schemas import load_catalog


@pytest.fixture(scope="module")
def world():
    return build_world(4000, seed=3)


def test_every_dirt_and_status_kind_is_present(world):
    kinds = set(world.pairs["identity"]) | set(world.ps["identity"])
    assert set(IDENTITY) <= kinds
    assert set(STATUS) <= set(world.ps["status"])


def test_truth_covers_every_injectable_rule(world):
    assert set(world.expected["rule"]) == set(load_catalog()) - {"REVIEW_MATCH"}


def test_one_archive_record_belongs_to_at_most_one_household(world):
    assert world.pairs["archive_no"].is_unique


def test_raw_ids_carry_every_spelling(world):
    ids = pd.concat([render(world, 3, as_text=True)[k]["户主证件号码" if k == "ps_households" else "身份证号码"]
                     for k in ("ps_households", "ha_archive")]).astype(str)
    assert ids.str.startswith("'").any()
    assert ids.str.contains("[０-９]").any()
    assert ids.str.contains(" ").any()
    assert ids.str.endswith("x").any()
    assert ids.str.fullmatch(r"\d{15}").any()
    assert ids.str.contains("E+", regex=False).any()
    assert (ids == "").any()


def test_dates_in_every_spelling(world):
    dates = render(world, 3, as_text=False)["ha_archive"]["竣工日期"]
    kinds = dates.map(lambda v: type(v).__name__ if not isinstance(v, str) else
                      ("年" if "年" in v else "/" if "/" in v else "-" if "-" in v else "digits" if v else "empty"))
    assert {"datetime", "int", "年", "/", "-", "digits"} <= set(kinds)


def test_issue15_dirt_is_generated_with_its_truth(world):
    # The three ways true pairs were missed (issue 15), often enough to measure.
    pairs = world.pairs
    for kind in ("dup_lost_id", "id_excel_rounded", "householder_changed_typo"):
        assert (pairs["identity"] == kind).sum() >= 20, kind
    ha = world.ha.set_index("archive_no")
    excel = ha.loc[pairs.loc[pairs["identity"] == "id_excel_rounded", "archive_no"], "householder_id"].astype(str)
    assert excel.str.fullmatch(r"[1-9]\.[0-9]{8,13}E\+17").all()
    lost = pairs[pairs["identity"] == "dup_lost_id"]
    originals = pairs[pairs["status"] == "dup_ha"]
    assert set(lost["household_no"]) <= set(originals["household_no"])   # each copy belongs to its original's household
    dup = world.expected[world.expected["rule"] == "DUPLICATE"]
    assert not set(lost["archive_no"]) & set(dup["archive_no"].dropna())  # no valid ID: not a DUPLICATE
    changed = world.expected[world.expected["rule"] == "HOUSEHOLDER_CHANGED"]
    typo = pairs[pairs["identity"] == "householder_changed_typo"]
    assert set(typo["archive_no"]) <= set(changed["archive_no"])
