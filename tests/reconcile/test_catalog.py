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
