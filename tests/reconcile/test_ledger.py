"""Ledger transitions, pure: new, open, resolved, reopened; idempotent; scoped."""
import pandas as pd

from reconcile.ledger import update_ledger


def disc(*ids, county="1"):
    return pd.DataFrame({"discrepancy_id": list(ids), "rule": "R", "county_code": county})


def status(ledger):
    return ledger.set_index("discrepancy_id")["status"].to_dict()


def test_lifecycle_across_dates():
    d1 = update_ledger(disc(), disc("a", "b"), "2020-07-31", "r1")
    assert status(d1) == {"a": "new", "b": "new"}
    d2 = update_ledger(d1, disc("b"), "2020-08-31", "r2")
    assert status(d2) == {"a": "resolved", "b": "open"}
    assert d2.set_index("discrepancy_id").loc["a", "resolved_at"] == "2020-08-31"
    d3 = update_ledger(d2, disc("a", "b"), "2020-09-30", "r3")
    assert status(d3) == {"a": "reopened", "b": "open"}
    assert d3.set_index("discrepancy_id").loc["a", "first_seen"] == "2020-07-31"


def test_same_inputs_same_state_however_often():
    prev = update_ledger(disc(), disc("a", "b"), "2020-07-31", "r1")
    once = update_ledger(prev, disc("b", "c"), "2020-08-31", "r2")
    twice = update_ledger(prev, disc("b", "c"), "2020-08-31", "r3", same_day=once)
    cols = ["discrepancy_id", "status", "first_seen", "last_seen", "resolved_at"]
    pd.testing.assert_frame_equal(once[cols], twice[cols])


def test_same_day_correction_resolves_and_return_reopens():
    first = update_ledger(disc(), disc("a", "b"), "2020-07-31", "r1")
    fixed = update_ledger(disc(), disc("b"), "2020-07-31", "r2", same_day=first)
    assert status(fixed) == {"a": "resolved", "b": "new"}
    back = update_ledger(disc(), disc("a", "b"), "2020-07-31", "r3", same_day=fixed)
    assert status(back) == {"a": "reopened", "b": "new"}


def test_out_of_scope_entries_are_untouched():
    prev = update_ledger(disc(), pd.concat([disc("a"), disc("z", county="2")]), "2020-07-31", "r1")
    scoped = update_ledger(prev[prev["county_code"] == "1"], disc(), "2020-08-31", "r2", scope=["1"])
    assert status(scoped) == {"a": "resolved"}
    other = update_ledger(prev, disc(), "2020-08-31", "r2", scope=["1"])
    assert status(other) == {"a": "resolved", "z": "new"}


def moves(before, after):
    from reconcile.ledger import changes

    return changes(before, after).set_index("discrepancy_id")["status"].to_dict()


def test_changes_are_measured_against_the_ledger_before_the_run():
    first = update_ledger(disc(), disc("a", "b"), "2020-07-31", "r1")
    assert moves(disc(), first) == {"a": "new", "b": "new"}
    # The same inputs again for the same date: the ledger keeps its statuses (byte-identical
    # tables), but nothing changed since the earlier run of the day.
    again = update_ledger(disc(), disc("a", "b"), "2020-07-31", "r2", same_day=first)
    assert status(again) == status(first)
    assert moves(first, again) == {"a": "open", "b": "open"}
    fixed = update_ledger(disc(), disc("b"), "2020-07-31", "r3", same_day=first)
    assert moves(first, fixed) == {"a": "resolved", "b": "open"}
    back = update_ledger(disc(), disc("a", "b", "c"), "2020-07-31", "r4", same_day=fixed)
    assert moves(fixed, back) == {"a": "reopened", "b": "open", "c": "new"}
    # Long resolved and still resolved is no change of this run.
    later = update_ledger(fixed, disc("b"), "2020-08-31", "r5")
    assert moves(fixed, later) == {"b": "open"}


def test_the_ledger_columns_and_statuses_are_the_schemas():
    """One list of columns and statuses (schemas.published): the ledger writes those
    columns in that order, a person has a label for every status, the model allows them."""
    from schemas.config import load_labels
    from schemas.published import LEDGER_COLUMNS, LEDGER_STATUSES, OPEN_STATUSES, Ledger

    first = update_ledger(pd.DataFrame(), disc("a"), "2020-07-30", "run1")
    led = update_ledger(first, disc("b"), "2020-07-31", "run2")
    assert list(led.columns) == LEDGER_COLUMNS and set(led["status"]) == {"new", "resolved"}
    assert set(OPEN_STATUSES) < set(LEDGER_STATUSES) <= set(load_labels()["status"])
    assert set(Ledger.to_schema().columns) <= set(LEDGER_COLUMNS)
    allowed = next(c for c in Ledger.to_schema().columns["status"].checks if c.name == "isin")
    assert list(allowed.statistics["allowed_values"]) == list(LEDGER_STATUSES)
    assert set(led["status"]) <= set(LEDGER_STATUSES)


def test_any_item_table_is_tracked_by_its_own_id():
    import reconcile

    cols = ["alert_id", "alert", "county_code", "status", "first_seen", "last_seen", "resolved_at", "changed_by_run"]
    alerts = lambda *ids: pd.DataFrame({"alert_id": list(ids), "alert": "A", "county_code": "1"})  # noqa: E731
    a1 = reconcile.update_ledger(pd.DataFrame(columns=cols), alerts("x", "y"), "2020-07-31", "r1",
                                 id_col="alert_id", columns=cols)
    a2 = reconcile.update_ledger(a1, alerts("y"), "2020-08-31", "r2", ["1"], None, id_col="alert_id", columns=cols)
    assert list(a2.columns) == cols
    assert a2.set_index("alert_id")["status"].to_dict() == {"x": "resolved", "y": "open"}
    assert a2.set_index("alert_id").loc["y", "changed_by_run"] == "r2"


def test_the_generic_ledger_gives_the_discrepancy_ledger_unchanged():
    prev = update_ledger(disc(), disc("a", "b"), "2020-07-31", "r1")
    from schemas.published import LEDGER_COLUMNS

    pd.testing.assert_frame_equal(update_ledger(prev, disc("b", "c"), "2020-08-31", "r2"),
                                  update_ledger(prev, disc("b", "c"), "2020-08-31", "r2", id_col="discrepancy_id",
                                                columns=LEDGER_COLUMNS))


def test_a_waived_item_stays_waived_until_its_values_change():
    cols = ["discrepancy_id", "rule", "county_code", "value", "status", "first_seen", "last_seen", "resolved_at",
            "changed_by_run"]
    prev = pd.DataFrame({"discrepancy_id": ["a", "b", "c"], "rule": "R", "county_code": "1", "value": ["1", "2", "3"],
                         "status": "waived", "first_seen": "2020-07-31", "last_seen": "2020-07-31",
                         "resolved_at": pd.NA, "changed_by_run": "r1"})
    now = pd.DataFrame({"discrepancy_id": ["a", "b"], "rule": "R", "county_code": "1", "value": ["1", "9"]})
    led = update_ledger(prev, now, "2020-08-31", "r2", columns=cols, values_col="value").set_index("discrepancy_id")
    assert led["status"].to_dict() == {"a": "waived", "b": "reopened", "c": "waived"}
    assert led.loc["a", "changed_by_run"] == "r1" and led.loc["b", "changed_by_run"] == "r2"
    plain = update_ledger(prev, now, "2020-08-31", "r2", columns=cols)  # no values given: the verdict holds
    assert status(plain) == {"a": "waived", "b": "waived", "c": "waived"}
    from schemas.published import OPEN_STATUSES, LEDGER_STATUSES

    assert "waived" in LEDGER_STATUSES and "waived" not in OPEN_STATUSES
