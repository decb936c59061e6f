"""Dynamic monitoring: alerts from unified tables built by hand from known transitions."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from reconcile.monitor import alerts, household_history, housing_facts
from schemas.alerts import Alerts, alert_thresholds, load_alert_kinds

D = ["2020-04-30", "2020-05-31", "2020-06-30", "2020-07-31"]
C1, C2 = "522425", "522426"
LONG_AGO = pd.Timestamp("2019-12-01")  # 243 days before D[3]: past the 180-day stall threshold at D[2] and D[3]


def row(hh, arch, *, county=C1, in_ps=None, in_ha=None, exited=False, secured=True, grade=None,
        reno="none", start=None, completion=None):
    return {"household_no": hh, "archive_no": arch, "county_code": county,
            "in_ps": hh is not None if in_ps is None else in_ps, "in_ha": arch is not None if in_ha is None else in_ha,
            "exit_status": "exited" if exited else "not_exited", "housing_secured": secured, "danger_grade": grade,
            "renovation_status": reno, "start_date": start, "completion_date": completion}


def frame(rows: list[dict]) -> pd.DataFrame:
    f = pd.DataFrame(rows)
    f["housing_secured"] = f["housing_secured"].astype("boolean")
    f["start_date"] = pd.to_datetime(f["start_date"])
    f["completion_date"] = pd.to_datetime(f["completion_date"])
    for c in ("household_no", "archive_no", "danger_grade"):
        f[c] = f[c].astype("string")
    return f


def series(hh, arch, values: list, field: str, **kw) -> list[dict | None]:
    """One household over the four dates; ``None`` in ``values``: absent that date."""
    return [None if v is None else row(hh, arch, **{**kw, field: v}) for v in values]


# (household rows on D[0..3], the alerts expected on D[3] as {kind: (previous_as_of, previous_value, value, since)})
STORIES = {
    "lost_now": (series("H01", "A01", [True, True, True, False], "secured"),
                 {"SECURED_LOST": (D[2], "true", "false", D[3])}),
    "lost_long_ago": (series("H02", "A02", [True, False, False, False], "secured"),
                      {"SECURED_LOST": (D[0], "true", "false", D[1])}),
    "lost_again": (series("H03", "A03", [False, True, False, False], "secured"),
                   {"SECURED_LOST": (D[1], "true", "false", D[2])}),
    "never_secured": (series("H04", "A04", [False, False, False, False], "secured"), {}),
    "unknown_between": (series("H05", "A05", [True, pd.NA, pd.NA, False], "secured"),
                        {"SECURED_LOST": (D[0], "true", "false", D[3])}),
    "regained": (series("H06", "A06", [True, False, False, True], "secured"), {}),
    "danger_now": (series("H07", "A07", ["B", "B", "B", "C"], "grade"),
                   {"DANGER_WORSENED": (D[2], "B", "C", D[3])}),
    "danger_twice": (series("H08", "A08", ["C", "C", "D", "D"], "grade"),
                     {"DANGER_WORSENED": (D[1], "C", "D", D[2])}),
    "a_to_b": (series("H09", "A09", ["A", "A", "A", "B"], "grade"), {}),
    "better": (series("H10", "A10", ["D", "D", "C", "C"], "grade"), {}),
    "graded_late": ([row("H11", "A11"), row("H11", "A11"), row("H11", "A11", grade="D"),
                     row("H11", "A11", grade="D")], {}),
    "exited_unsecured": (series("H12", "A12", [True, True, True, False], "secured", exited=True),
                         {"SECURED_LOST": (D[2], "true", "false", D[3]),
                          "EXITED_AT_RISK": (D[2], "ok", "unsecured", D[3])}),
    "exited_grade": (series("H13", "A13", ["B", "B", "D", "D"], "grade", exited=True),
                     {"DANGER_WORSENED": (D[1], "B", "D", D[2]), "EXITED_AT_RISK": (D[1], "ok", "D", D[2])}),
    "exit_while_unsecured": ([row("H14", "A14", secured=False), row("H14", "A14", secured=False),
                              row("H14", "A14", secured=False, exited=True),
                              row("H14", "A14", secured=False, exited=True)],
                             {"EXITED_AT_RISK": (D[1], "not_exited", "unsecured", D[2])}),
    "stalled": ([row("H15", "A15", reno="not_started"),
                 *[row("H15", "A15", reno="in_progress", start=LONG_AGO)] * 3],
                {"RENOVATION_STALLED": (D[2], "2019-12-01", "243", D[2])}),
    "moving": ([row("H16", "A16", reno="in_progress", start=LONG_AGO)] * 3
               + [row("H16", "A16", reno="in_progress", start=LONG_AGO, completion="2020-09-30")], {}),
    "young": ([row("H17", "A17", reno="in_progress", start="2020-05-01")] * 4, {}),
    "first_seen_in_progress": ([None, None, None, row("H18", "A18", reno="in_progress", start=LONG_AGO)],
                               {"NEW_HOUSEHOLD": (None, None, "ps,ha", D[3])}),
    "completed": ([row("H19", "A19", reno="in_progress", start=LONG_AGO)] * 3
                  + [row("H19", "A19", reno="completed", start=LONG_AGO, completion="2020-07-01")], {}),
    "vanished_both": ([row("H20", "A20")] * 3 + [None], {"RECORD_VANISHED": (D[2], "ps,ha", "ps,ha", D[3])}),
    "vanished_ha": ([row("H21", "A21")] * 3 + [row("H21", None)], {"RECORD_VANISHED": (D[2], "ha", "ha", D[3])}),
    "vanished_ha_only": ([row(None, "A22")] * 2 + [None, None], {"RECORD_VANISHED": (D[1], "ha", "ha", D[2])}),
    "vanished_ps_kept_ha": ([row("H23", "A23")] * 3 + [row(None, "A23")],
                            {"RECORD_VANISHED": (D[2], "ps", "ps", D[3])}),
    "primary_swapped": ([row("H24", "A24a")] * 3 + [row("H24", "A24b")], {}),
    "ha_only_matched_later": ([row(None, "A25")] * 3 + [row("H25", "A25")],
                              {"NEW_HOUSEHOLD": (None, None, "ps", D[3])}),
    "new_ps": ([None, None, None, row("H26", None)], {"NEW_HOUSEHOLD": (None, None, "ps", D[3])}),
    "new_ha_only": ([None, None, None, row(None, "A27")], {"NEW_HOUSEHOLD": (None, None, "ha", D[3])}),
    "new_last_month": ([None, None, row("H28", "A28"), row("H28", "A28")], {}),
    "ha_added_to_ps": ([row("H29", None)] * 3 + [row("H29", "A29")], {"NEW_HOUSEHOLD": (None, None, "ha", D[3])}),
    "renovated_house": ([row("H32", "A32", exited=True, grade="D", reno="completed", start=LONG_AGO,
                             completion="2020-03-01")] * 4, {}),
    "danger_then_renovated": ([row("H33", "A33", grade="B")] * 2
                              + [row("H33", "A33", grade="D", reno="in_progress", start="2020-06-01"),
                                 row("H33", "A33", grade="D", reno="completed", start="2020-06-01",
                                     completion="2020-07-20")], {}),
    "other_county_steady": ([row("H30", "A30", county=C2)] * 4, {}),
    "other_county_lost": (series("H31", "A31", [True, True, True, False], "secured", county=C2),
                          {"SECURED_LOST": (D[2], "true", "false", D[3])}),
}


def tables(upto: int = 4) -> dict[str, pd.DataFrame]:
    return {D[i]: frame([s[0][i] for s in STORIES.values() if s[0][i] is not None]) for i in range(upto)}


def key_of(r: dict) -> str:
    return r["household_no"] if r["household_no"] is not None else "HA:" + r["archive_no"]


def expected() -> pd.DataFrame:
    rows = []
    for rows_by_date, kinds in STORIES.values():
        for kind, (prev, prev_value, value, since) in kinds.items():
            # a vanished record is named as it was last seen; any other alert as it is now
            seen = rows_by_date[:-1] if kind == "RECORD_VANISHED" else rows_by_date
            last = next(r for r in reversed(seen) if r is not None)
            rows.append({"alert": kind, "key": key_of(last), "previous_as_of": prev, "previous_value": prev_value,
                         "value": value, "since": since})
    return pd.DataFrame(rows)


def run(as_of=D[3], upto=4, history_dates=None, **kw) -> pd.DataFrame:
    t = tables(upto)
    hist = household_history({d: t[d] for d in (history_dates or t)})
    return alerts(hist, t[as_of], as_of, **kw)


def keyed(a: pd.DataFrame) -> pd.Series:
    return a["household_no"].fillna("HA:" + a["archive_no"])


def test_every_kind_has_precision_and_recall_one():
    got = run()
    Alerts.validate(got)
    want = expected()
    assert set(want["alert"]) == set(load_alert_kinds()), "the stories cover every kind"
    got_pairs = set(zip(got["alert"], keyed(got)))
    for kind in load_alert_kinds():
        w = {p for p in zip(want["alert"], want["key"]) if p[0] == kind}
        g = {p for p in got_pairs if p[0] == kind}
        assert g == w, kind  # precision and recall 1.0


def test_episode_columns():
    got = run().assign(key=lambda a: keyed(a))
    cols = ["alert", "key", "previous_as_of", "previous_value", "value", "since"]
    g = got[cols].astype(object).where(got[cols].notna(), None).sort_values(["alert", "key"]).values.tolist()
    w = expected()[cols].astype(object).where(expected()[cols].notna(), None).sort_values(["alert", "key"])
    assert g == w.values.tolist()


def test_messages_are_chinese_and_filled():
    got = run()
    lost = got[(got["alert"] == "RECORD_VANISHED") & (got["household_no"] == "H20")]["message_zh"].iloc[0]
    assert lost == "2020-06-30核对时该户在扶贫系统、住建部门农户档案中有记录，自2020-07-31起在扶贫系统、住建部门农户档案中找不到"
    assert not got["message_zh"].str.contains(r"\{|\}|<NA>|nan").any()
    assert got["action_zh"].str.len().gt(0).all()


def test_an_ongoing_situation_keeps_its_id_from_month_to_month():
    before, now = run(as_of=D[2], upto=3), run()
    b = before[before["household_no"] == "H02"].set_index("alert")["alert_id"]
    n = now[now["household_no"] == "H02"].set_index("alert")["alert_id"]
    assert b["SECURED_LOST"] == n["SECURED_LOST"]
    assert before["alert_id"].is_unique and now["alert_id"].is_unique


def test_a_past_date_uses_only_earlier_dates():
    full = run(as_of=D[2])  # history holds D[3] too
    only_earlier = run(as_of=D[2], upto=3)
    pd.testing.assert_frame_equal(full, only_earlier)
    assert not full.empty


def test_order_of_runs_does_not_matter_and_reruns_are_byte_identical():
    t = tables()
    shuffled = household_history({d: t[d] for d in [D[3], D[0], D[2], D[1]]})
    a = alerts(shuffled, t[D[3]], D[3])
    b = run()
    buf_a, buf_b = io.BytesIO(), io.BytesIO()
    a.to_parquet(buf_a, index=False)
    b.to_parquet(buf_b, index=False)
    assert buf_a.getvalue() == buf_b.getvalue()


def test_a_scoped_run_alerts_only_in_its_counties():
    got = run(scope=[C2])
    assert set(got["county_code"]) == {C2}
    assert set(got["household_no"]) == {"H31"}


def test_no_history_no_alert():
    assert run(as_of=D[0], upto=1).empty


def test_thresholds_come_from_the_settings():
    assert "RENOVATION_STALLED" in set(run()["alert"])
    assert "RENOVATION_STALLED" not in set(run(thresholds={"RENOVATION_STALLED": {"days_after_start": 300}})["alert"])
    only_d = run(thresholds={"DANGER_WORSENED": {"alert_grades": ["D"]}})
    assert set(only_d.loc[only_d["alert"] == "DANGER_WORSENED", "household_no"]) == {"H08", "H13"}
    with pytest.raises(ValueError, match="unknown threshold"):
        alert_thresholds({"RENOVATION_STALLED": {"days": 1}})


def test_tables_published_before_monitoring_lack_its_columns():
    t = tables()
    old = {d: f.drop(columns=["danger_grade", "start_date"]) for d, f in t.items() if d != D[3]}
    got = alerts(household_history(old), t[D[3]], D[3])
    assert "DANGER_WORSENED" not in set(got["alert"])
    assert {"SECURED_LOST", "RECORD_VANISHED", "NEW_HOUSEHOLD"} <= set(got["alert"])


def test_housing_facts_are_the_archive_records():
    u = pd.DataFrame({"household_no": ["H1", "H2", None], "archive_no": ["A1", None, "A3"]})
    ha = pd.DataFrame({"archive_no": ["A1", "A3"], "danger_grade": ["B", None],
                       "start_date": pd.to_datetime(["2020-01-02", None])})
    out = housing_facts(u, ha)
    assert out["danger_grade"].tolist()[0] == "B" and out["danger_grade"].iloc[1:].isna().all()
    assert out["start_date"].iloc[0] == pd.Timestamp("2020-01-02") and out["start_date"].iloc[1:].isna().all()


def test_the_exports_say_whether_an_archive_record_is_gone_or_new():
    """A fuzzy match lost (the archive record is still exported, now in another group) is
    no vanished record; one gained to an archive exported before is no new household."""
    t = tables()
    hist = household_history({d: pd.concat([t[d], frame([row("H34", "A34"), row("H35", None)])], ignore_index=True)
                            for d in D[:3]})
    now = pd.concat([t[D[3]], frame([row("H34", None), row("H35", "A35")])], ignore_index=True)
    plain = alerts(hist, now, D[3])
    assert {("RECORD_VANISHED", "H34"), ("NEW_HOUSEHOLD", "H35")} <= set(zip(plain["alert"], plain["household_no"]))
    exported = pd.concat([now["archive_no"].dropna(), pd.Series(["A34"], dtype="string")])
    told = alerts(hist, now, D[3], archives_now=exported, archives_before=pd.Series(["A35"]))
    pairs = set(zip(told["alert"], told["household_no"]))
    assert ("RECORD_VANISHED", "H34") not in pairs and ("NEW_HOUSEHOLD", "H35") not in pairs
    assert len(told) == len(plain) - 2
