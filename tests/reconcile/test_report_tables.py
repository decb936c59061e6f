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
