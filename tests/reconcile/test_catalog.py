import re

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
