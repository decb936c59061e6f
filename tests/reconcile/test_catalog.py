import re

import pytest

from reconcile.rules import RULES
from schemas import load_catalog
from schemas.published import RULES as PUBLISHED_RULES


def test_every_catalog_rule_has_an_implementation_and_back():
    assert set(load_catalog()) == set(RULES) == set(PUBLISHED_RULES)


def test_catalog_entries_are_complete():
    for code, spec in load_catalog().items():
        assert spec.severity in {"critical", "high", "medium", "low"}, code
        assert spec.owner in {"ps", "ha", "both", "agency"}, code
        assert spec.message_zh and spec.message_en and spec.action_zh and spec.action_en, code


def test_chinese_templates_name_fields_only_through_their_labels():
    """Issue 17: {field} is a code (household_size); Chinese text takes {field_zh}."""
    for code, spec in load_catalog().items():
        assert "{field}" not in spec.message_zh and "{field}" not in spec.action_zh, code


def test_every_field_a_rule_writes_has_a_chinese_label():
    from schemas.field_labels import field_label
    from schemas.config import load_labels

    for code in [*load_labels()["field"], "household_size", "housing_secured", "danger_grade", "is_relocated",
                 "completion_date", "subsidy_yuan", "householder_id", "householder_name", "target_type", "id,name"]:
        for agency in ("ps", "ha", ""):
            label = field_label(code, agency)
            assert label and code not in label and not re.search(r"[a-z]+_[a-z]+|^[a-z,]+$", label), (code, label)


# --- the catalog holds every per-rule fact (issue 16) ------------------------------------------

def _spec(**kw):
    from schemas.config import RuleSpec

    base = dict(code="X", label_zh="某规则", severity="low", owner="ps", message_zh="m", message_en="m",
                action_zh="a", action_en="a", record="ps")
    return RuleSpec(**{**base, **kw})


def test_a_rule_that_suggests_says_its_basis_and_only_such_a_rule():
    from schemas.config import check_rule, load_labels

    severities = load_labels()["severity"]
    check_rule(_spec(), severities)
    check_rule(_spec(suggest_for="ps", basis_zh="依据"), severities)
    with pytest.raises(ValueError, match="catalog.yaml X: .*basis"):
        check_rule(_spec(suggest_for="ps"), severities)
    with pytest.raises(ValueError, match="basis"):
        check_rule(_spec(basis_zh="依据"), severities)
    with pytest.raises(ValueError, match="severity 'urgent'"):
        check_rule(_spec(severity="urgent"), severities)
    with pytest.raises(ValueError, match="record 'both'"):
        check_rule(_spec(record="both"), severities)


def test_the_severities_are_the_labels_order():
    from schemas.config import load_labels
    from schemas.published import SEVERITIES

    assert SEVERITIES == ["critical", "high", "medium", "low"] == list(load_labels()["severity"])


def test_rule_labels_are_the_catalogs():
    from reconcile.report import LABELS

    assert LABELS["rule"] == {code: spec.label_zh for code, spec in load_catalog().items()}


def test_a_catalog_rule_without_its_function_stops_the_import(monkeypatch):
    from reconcile import rules

    monkeypatch.setattr(rules, "load_catalog", lambda: {"HA_MISSING": None, "NEW_RULE": None})
    with pytest.raises(ImportError, match="NEW_RULE"):
        rules._implementations()


def test_each_rule_is_the_function_of_its_code():
    for code, fn in RULES.items():
        assert fn.__name__ == code.lower()


def test_hits_naming_other_records_than_the_catalog_says_stop_the_run():
    """catalog.yaml `record` is checked on every run: HA_MISSING declared a pair rule fails."""
    import dataclasses
    from datetime import date

    import pandas as pd

    from reconcile import pipeline
    from reconcile.discrepancies import classify
    from reconcile.rules import RuleContext
    from schemas import load_source_specs
    from tests.reconcile.builders import ha, ps, raw_frame

    canon = pipeline.normalize({"ps_households": raw_frame([ps()]), "ha_archive": raw_frame([ha()])},
                               load_source_specs(), pipeline.Settings(as_of=date(2020, 7, 31)))
    none = pd.DataFrame({c: pd.Series(dtype="string") for c in ("household_no", "archive_no", "method",
                                                                 "member_name")})
    ctx = RuleContext.build(canon.ps, canon.ha, canon.members, none, none, date(2020, 7, 31), date(2020, 6, 30))
    assert {"HA_MISSING", "PS_MISSING"} <= set(classify(ctx)["rule"])  # nothing matched: both missing
    catalog = dict(load_catalog())
    catalog["HA_MISSING"] = dataclasses.replace(catalog["HA_MISSING"], record="pair")
    with pytest.raises(AssertionError, match="rule HA_MISSING: 1 hit"):
        classify(ctx, catalog)
