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
