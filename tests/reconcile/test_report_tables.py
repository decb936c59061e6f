"""The report's count tables (per rule with ledger changes, per county), checked by hand."""
import pandas as pd

from reconcile.report import county_counts, rule_changes


def test_summary_tables_count_what_they_say():
    disc = pd.DataFrame({"discrepancy_id": ["a", "b", "c"], "rule": ["HA_MISSING", "HA_MISSING", "DUPLICATE"],
                         "county_code": ["520628", "522222", "522222"], "severity": ["high", "high", "low"]})
    ledger = pd.DataFrame({"discrepancy_id": ["a", "b", "c", "d"], "rule": ["HA_MISSING", "HA_MISSING", "DUPLICATE",
                                                                              "DUPLICATE"],
                           "status": ["new", "open", "new", "resolved"]})
    r = rule_changes(disc, ledger).set_index("rule")
    assert r.loc["HA_MISSING", ["discrepancies", "new", "open", "resolved"]].tolist() == [2, 1, 1, 0]
    assert r.loc["DUPLICATE", ["discrepancies", "new", "resolved"]].tolist() == [1, 1, 1]
    unified = pd.DataFrame({"county_code": ["520628", "522222", "522222", "522222"]})
    c = county_counts(disc, unified).set_index("county")
    assert c.loc["522222", ["households", "high", "low"]].tolist() == [3, 1, 1]


def test_a_full_id_typed_into_a_name_is_masked_wherever_analysts_read_it():
    """Issue 14.8: an ID number in a name cell reaches messages and the report masked;
    the discrepancy's own values (the agencies' copy) keep it in full."""
    import re

    from reconcile.report import analyst_view
    from schemas.gate import full_id_pattern
    from tests.reconcile.builders import ID_B, ID_C, ha, member, ps, run

    full_id = re.compile(full_id_pattern())
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in ID_C)
    t = run([ps(householder_name=ID_B), ps(household_no="H2", householder_id=ID_C, householder_name="李四")],
            [ha(), ha(archive_no="A2", householder_id=ID_C, householder_name=f"李{ID_C}四")],
            [member(), member(household_no="H2", name=fullwidth, id_no=ID_C)])
    d = t.discrepancies
    assert {"IDENTITY_CONFLICT"} <= set(d["rule"]) and ID_B in d["ps_value"].tolist()
    for col in ("message", "message_en", "action", "action_en"):
        assert not d[col].str.contains(full_id.pattern).any(), d[col].tolist()
    view = analyst_view(d)
    for col in view.columns:
        text = view[col].astype("string").fillna("")
        assert not text.str.contains(full_id.pattern).any(), (col, text.tolist())
    assert any("522425********" in v for v in view["扶贫系统值"].dropna())
