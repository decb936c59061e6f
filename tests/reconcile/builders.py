"""Smallest readable frames for the core: one dict per record, canonical column names."""
from __future__ import annotations

import pandas as pd

from reconcile import pipeline
from reconcile.ids import check_char
from schemas import load_source_specs
from schemas.defaults import DEADLINE, SAMPLE_AS_OF


def make_id(stem17: str) -> str:
    return stem17 + check_char(pd.Series([stem17]))[0]


ID_A = make_id("52242519800101001")
ID_B = make_id("52242519820202002")
ID_C = make_id("52242520050303003")

PS = dict(household_no="H1", village_code="522425100201", householder_name="张三", householder_id=ID_A,
          household_size="3", poverty_attribute="一般贫困户", identified_year="2016", exit_status="未脱贫",
          exit_year="", is_dilapidated="否", dilapidation_grade="", is_relocated="否", housing_secured="是")
HA = dict(archive_no="A1", village_code="522425100201", householder_name="张三", householder_id=ID_A,
          household_size="3", target_type="建档立卡贫困户", guarantee_method="原住房鉴定安全", secured_result="鉴定安全",
          danger_grade="A级", task_year="", task_source="", renovation_mode="", start_date="", completion_date="",
          acceptance_date="", subsidy_yuan="")
RENOVATED = dict(guarantee_method="农村危房改造", secured_result="改造安全", danger_grade="C级", task_year="2020",
                 task_source="年度计划", renovation_mode="修缮加固", start_date="2020-02-01",
                 completion_date="2020-05-01", acceptance_date="2020-05-20", subsidy_yuan="20000")
MEMBER = dict(household_no="H1", name="张三", id_no=ID_A, relation="户主", sex="男")


def ps(**kw) -> dict:
    return {**PS, **kw}


def ha(**kw) -> dict:
    return {**HA, **kw}


def member(**kw) -> dict:
    return {**MEMBER, **kw}


def raw_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:  # an empty export still has its columns
        return pd.DataFrame({"_row": pd.Series(dtype="int64"), **{c: pd.Series(dtype="string") for c in HA}})
    f = pd.DataFrame(rows, dtype="string")
    f.insert(0, "_row", range(2, len(rows) + 2))
    return f


def run(ps_rows, ha_rows, member_rows=None, as_of=SAMPLE_AS_OF, deadline=DEADLINE) -> pipeline.Tables:
    raw = {"ps_households": raw_frame(ps_rows), "ha_archive": raw_frame(ha_rows)}
    if member_rows is not None:
        raw["ps_members"] = raw_frame(member_rows)
    return pipeline.run(raw, load_source_specs(), pipeline.Settings(as_of=as_of, deadline=deadline))


def rules(tables: pipeline.Tables) -> list[str]:
    return sorted(tables.discrepancies["rule"].tolist())


def published_world(as_of=SAMPLE_AS_OF) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The published tables of a four-record run, and its row accounting: H1<->A1 matched,
    H2 without an archive record (HA_MISSING), A2 without a PS household (PS_MISSING), A3 of
    another priority group."""
    from reconcile.progress import monthly_progress

    raw = {"ps_households": raw_frame([ps(), ps(household_no="H2", householder_name="李四", householder_id=ID_B,
                                               village_code="522425100202")]),
           "ha_archive": raw_frame([ha(), ha(archive_no="A2", householder_name="王五", householder_id=ID_C,
                                             village_code="522425100203"),
                                    ha(archive_no="A3", householder_name="赵六",
                                       householder_id=make_id("52242519900404004"), target_type="低保户",
                                       village_code="522425100204")])}
    settings = pipeline.Settings(as_of=as_of)
    canon = pipeline.normalize(raw, load_source_specs(), settings)
    matched = pipeline.match(canon)
    disc = pipeline.find_discrepancies(canon, matched, settings).assign(status="new", first_seen=as_of.isoformat())
    unified, others = pipeline.unify(canon.ps, canon.ha, matched.matches, disc, as_of)
    tables = {"matches": matched.matches, "discrepancies": disc, "unified": unified, "other_groups": others,
              "records_ps": canon.ps, "records_ha": canon.ha,
              "ledger": disc[["discrepancy_id", "rule", "status", "first_seen"]],
              "progress": monthly_progress(canon.ha, unified, as_of.isoformat(), "2020-06-30")}
    accounting = pd.DataFrame({"source": ["ps_households", "ha_archive"], "rows_read": [2, 3], "rows_used": [2, 3],
                               "rows_quarantined": [0, 0], "rows_out_of_scope": [0, 0]})
    return tables, accounting
