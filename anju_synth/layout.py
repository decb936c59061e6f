"""Render a synthetic world in the agencies' native layouts, and write its truth."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from anju_synth.scenario import World
from connectors.native import write_csv, write_xlsx
from schemas.defaults import EXCEL_MAX_ROWS

PS_HEADERS = {
    "province_name": "省", "city_name": "市", "county_name": "县", "town_name": "乡镇", "village_name": "行政村",
    "village_code": "村级区划代码", "household_no": "户编号", "householder_name": "户主姓名",
    "householder_id": "户主证件号码", "household_size": "家庭人口数", "poverty_attribute": "贫困户属性",
    "identified_year": "识别年度", "exit_status": "脱贫标志", "exit_year": "脱贫年度", "is_dilapidated": "是否危房户",
    "dilapidation_grade": "危房级别", "is_relocated": "是否易地扶贫搬迁户", "housing_secured": "住房安全有保障",
    "phone": "联系电话",
}
MEMBER_HEADERS = {"household_no": "户编号", "name": "姓名", "id_no": "证件号码", "relation": "与户主关系", "sex": "性别"}
HA_HEADERS = {
    "archive_no": "档案编号", "province_name": "省", "city_name": "市", "county_name": "县", "town_name": "乡镇",
    "village_name": "村", "village_code": "村级区划代码", "householder_name": "户主姓名",
    "householder_id": "身份证号码", "household_size": "家庭人口", "target_type": "农户类型",
    "guarantee_method": "住房安全保障方式", "secured_result": "住房安全有保障认定结果", "danger_grade": "房屋危险等级",
    "task_year": "任务年度", "task_source": "任务来源", "renovation_mode": "改造方式", "start_date": "开工日期",
    "completion_date": "竣工日期", "acceptance_date": "验收日期", "subsidy_yuan": "补助资金(元)",
}
SPELLINGS = {
    "exited": ["已脱贫", "已脱贫(享受政策)", "已脱贫（不再享受政策）", "脱贫享受政策", "1", "4"],
    "not_exited": ["未脱贫", "返贫", "0", "3"],
    "一般贫困户": ["一般贫困户", "一般脱贫户"], "低保贫困户": ["低保贫困户", "低保脱贫户"],
    "特困供养贫困户": ["特困供养贫困户", "特困供养脱贫户", "低保特困供养贫困户"],
    "C": ["C级", "二级"], "D": ["D级", "一级"],
}


def _spell(values: pd.Series, rng) -> pd.Series:
    r = rng.random(len(values))
    return pd.Series([SPELLINGS[v][int(x * len(SPELLINGS[v]))] if v in SPELLINGS else v
                      for v, x in zip(values, r)], index=values.index, dtype="object")


def _spell_dates(d: pd.Series, rng, as_text: bool) -> pd.Series:
    """Dates as the archive holds them: date cells, four text spellings, Excel serials."""
    kind = rng.integers(0, 6, len(d))
    ok = d.notna()
    out = pd.Series("", index=d.index, dtype="object")
    dt = d[ok]
    k = kind[ok.to_numpy()]
    spelled = np.select(
        [k == 1, k == 2, k == 3, k == 4],
        [dt.dt.strftime("%Y-%m-%d"), dt.dt.year.astype(str) + "/" + dt.dt.month.astype(str) + "/" + dt.dt.day.astype(str),
         dt.dt.year.astype(str) + "年" + dt.dt.month.astype(str) + "月" + dt.dt.day.astype(str) + "日",
         dt.dt.strftime("%Y%m%d")],
        ((dt - pd.Timestamp("1899-12-30")).dt.days).astype(str))
    values = pd.Series(spelled, index=dt.index, dtype="object")
    if not as_text:
        cells = values.copy()
        cells[k == 0] = list(dt[k == 0].dt.to_pydatetime())
        cells[k == 5] = list((dt[k == 5] - pd.Timestamp("1899-12-30")).dt.days.astype(int))
        values = cells
    else:
        values[k == 0] = dt[k == 0].dt.strftime("%Y-%m-%d")
    out[ok] = values
    return out


def render(world: World, seed: int, as_text: bool) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed + 1)
    ps = world.ps.copy()
    for col in ("exit_status", "poverty_attribute", "dilapidation_grade"):
        ps[col] = _spell(ps[col], rng)
    for col in ("is_dilapidated", "is_relocated", "housing_secured"):
        ps[col] = np.where(ps[col], "是", "否")
    ps = ps[list(PS_HEADERS)].rename(columns=PS_HEADERS)

    hh_no = world.ps.set_index("hh")["household_no"]
    mem = world.members.assign(household_no=world.members["hh"].map(hh_no))
    mem = mem.sort_values(["household_no", "pos"])[list(MEMBER_HEADERS)].rename(columns=MEMBER_HEADERS)

    ha = world.ha.copy()
    ha["danger_grade"] = ha["danger_grade"].where(ha["danger_grade"] == "", ha["danger_grade"] + "级")
    for col in ("start_date", "completion_date", "acceptance_date"):
        ha[col] = _spell_dates(ha[col], rng, as_text)
    ha["subsidy_yuan"] = ha["subsidy_yuan"].astype("object").where(ha["subsidy_yuan"].notna(), "")
    ha["task_year"] = ha["task_year"].astype("object").where(ha["task_year"].notna(), "")
    ha = ha.sort_values("archive_no")[list(HA_HEADERS)].rename(columns=HA_HEADERS)
    if as_text:
        ha = ha.apply(lambda c: c.map(lambda v: v if isinstance(v, str) else
                                      (f"{v:.5E}" if isinstance(v, float) and v >= 1e15 else
                                       (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))))
    return {"ps_households": ps.reset_index(drop=True), "ps_members": mem.reset_index(drop=True),
            "ha_archive": ha.reset_index(drop=True)}


def _cell_text(v) -> str:
    """A cell as an export written as text shows it (dates ISO, big numbers as Excel's E notation)."""
    if isinstance(v, str):
        return v
    if isinstance(v, (pd.Timestamp, date)):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, float):
        return f"{v:.5E}" if v >= 1e15 else (str(int(v)) if v.is_integer() else str(v))
    return str(v)


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda c: c.map(_cell_text))


def write_exports(frames: dict[str, pd.DataFrame], out: Path, fmt: str, as_of: str,
                  ha_text: pd.DataFrame | None = None, county: str | None = None) -> dict[str, Path]:
    """The rendered exports (``render``'s frames, or a later month's from ``evolve``) in
    ``out``: native (CSV in GB18030 and UTF-8 with BOM, the archive in Excel) or parquet."""
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "native":
        # title, note, header and totals rows come on top of the records
        fits_excel = len(frames["ha_archive"]) + 4 <= EXCEL_MAX_ROWS
        paths = {"ps_households": out / "ps_households.csv", "ps_members": out / "ps_members.csv",
                 "ha_archive": out / ("ha_archive.xlsx" if fits_excel else "ha_archive.csv")}
        write_csv(frames["ps_households"], paths["ps_households"], "gb18030")
        write_csv(frames["ps_members"], paths["ps_members"], "utf-8-sig")
        if fits_excel:
            ha = frames["ha_archive"]
            if county is None:
                county = ha[HA_HEADERS["county_name"]].iloc[0] if len(ha) else ""
            write_xlsx(ha, paths["ha_archive"], title=f"{county}等县农村危房改造农户档案信息表",
                       note=f"填报单位：县住房和城乡建设局    填报日期：{as_of}")
        else:  # one sheet cannot hold it: the archive system exports CSV then, as Excel shows it
            text = ha_text if ha_text is not None else as_text(frames["ha_archive"])
            write_csv(text, paths["ha_archive"], "gb18030")
    elif fmt == "parquet":
        paths = {k: out / f"{k}.parquet" for k in frames}
        for k, f in frames.items():
            f.astype("string").to_parquet(paths[k], index=False)
    elif fmt == "counties":  # a folder per source, a Parquet file per county (a national run's layout)
        paths = {k: out / k for k in frames}
        for k, f in frames.items():
            key = f[MEMBER_HEADERS["household_no"]] if k == "ps_members" else f[PS_HEADERS["village_code"]]
            county = key.astype("string").str[:6].where(key.astype("string").str[:6].str.fullmatch(r"\d{6}"), "other")
            paths[k].mkdir(exist_ok=True)
            for code in sorted(county.fillna("other").unique()):
                f[(county.fillna("other") == code).to_numpy()].astype("string").to_parquet(
                    paths[k] / f"{code}.parquet", index=False)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected native, parquet or counties")
    return paths


def write_world(world: World, out: Path, seed: int, fmt: str = "native") -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    frames = render(world, seed, as_text=(fmt != "native"))
    big = fmt == "native" and len(frames["ha_archive"]) + 4 > EXCEL_MAX_ROWS
    paths = write_exports(frames, out, fmt, world.meta["as_of"],
                          ha_text=render(world, seed, as_text=True)["ha_archive"] if big else None,
                          county=world.ha["county_name"].iloc[0] if len(world.ha) else "")
    truth = out / "truth"
    truth.mkdir(exist_ok=True)
    world.pairs.sort_values(["household_no", "archive_no"]).to_csv(truth / "pairs.csv", index=False)
    world.expected.to_csv(truth / "discrepancies.csv", index=False)
    (truth / "world.json").write_text(json.dumps({**world.meta, "format": fmt,
                                                  "rows": {k: len(v) for k, v in frames.items()}},
                                                 ensure_ascii=False, indent=2), encoding="utf-8")
    return paths
