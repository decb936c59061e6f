"""Package layouts reopened from disk, and the idempotent, all-or-nothing write-back."""
import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.feedback import push, staging_rows, write_packages
from reconcile.feedback import PACKAGE_COLUMNS


def package(n=3):
    return pd.DataFrame({
        "discrepancy_id": [f"{i:016x}" for i in range(n)], "rule": "INVALID_ID", "severity": "medium",
        "county_code": "522425", "户编号": [f"H{i}" for i in range(n)], "档案编号": pd.NA, "column": "householder_id",
        "字段": "户主证件号码", "当前值": "52242519800101001", "建议值": "522425198001010011", "依据": "对方部门",
        "原因": "户主身份证号码无效", "处理建议": "更正"}).astype("string")[PACKAGE_COLUMNS]


def test_ps_package_is_gb18030_csv_and_xlsx_with_native_headers(tmp_path):
    cleaned = pd.DataFrame({"户编号": ["H0"], "户主证件号码": ["522425198001010011"]})
    files = write_packages(tmp_path, "ps", package(), cleaned, pd.Series(["522425"]))
    names = sorted(f.name for f in files)
    assert names == ["清洗数据_522425.csv", "清洗数据_522425.xlsx", "纠错清单_522425.csv", "纠错清单_522425.xlsx"]
    csv = pd.read_csv(tmp_path / "ps" / "522425" / "纠错清单_522425.csv", encoding="gb18030", dtype=str)
    assert list(csv.columns) == ["问题编号", "规则", "严重程度", "县代码", "户编号", "档案编号", "字段", "当前值", "建议值",
                                 "依据", "原因", "处理建议"]
    assert csv["建议值"].tolist() == ["522425198001010011"] * 3  # full ID: the agency needs it
    ws = openpyxl.load_workbook(tmp_path / "ps" / "522425" / "纠错清单_522425.xlsx").active
    rows = list(ws.iter_rows(values_only=True))
    assert "纠错清单" in rows[0][0] and "单引号" in rows[1][0] and rows[2][7] == "当前值"


def test_ha_package_is_xlsx_only(tmp_path):
    files = write_packages(tmp_path, "ha", package(), pd.DataFrame({"档案编号": ["A1"]}), pd.Series(["522425"]))
    assert all(f.suffix == ".xlsx" for f in files)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def agency_db(request, tmp_path, fresh_database):
    return f"sqlite:///{tmp_path / 'agency.sqlite'}" if request.param == "sqlite" else fresh_database(request.param)


def _table(url, name="anju_corrections"):
    with sa.create_engine(url).connect() as conn:
        return pd.read_sql(sa.text(f"select * from {name} order by discrepancy_id"), conn)


def test_push_twice_changes_nothing(agency_db):
    rows = staging_rows(package(), "ps", "2020-07-31")
    assert push(rows, agency_db, "anju_corrections") == 3
    first = _table(agency_db)
    push(rows, agency_db, "anju_corrections")
    pd.testing.assert_frame_equal(first, _table(agency_db))
    assert first["proposed_value"].tolist() == ["522425198001010011"] * 3


def test_push_failing_halfway_leaves_the_table_unchanged(agency_db, monkeypatch):
    import connectors.feedback as fb

    push(staging_rows(package(2), "ps", "2020-07-31"), agency_db, "anju_corrections")
    before = _table(agency_db)
    calls = {"n": 0}
    real = fb._upsert

    def flaky(conn, table, rows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("connection lost mid-push")
        real(conn, table, rows)

    monkeypatch.setattr(fb, "_upsert", flaky)
    changed = staging_rows(package(4), "ps", "2020-08-31")
    with pytest.raises(RuntimeError, match="mid-push"):
        push(changed, agency_db, "anju_corrections", batch=2)
    assert calls["n"] == 2
    pd.testing.assert_frame_equal(before, _table(agency_db))


def typed_cleaned():
    return pd.DataFrame({
        "户编号": pd.array(["5224250101000001", "0052242501"], dtype="string"),
        "户主证件号码": pd.array(["522425198001010011", "52242519820202002X"], dtype="string"),
        "家庭人口数": pd.array([3, None], dtype="Int64"),
        "补助资金(元)": pd.array([11000.0, 2500.5], dtype="Float64"),
        "竣工日期": pd.to_datetime(["2020-05-01", None])})


def _width(text) -> int:
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def _assert_header(ws, row):
    from tests.connectors.test_workbooks import column_width

    header = [c for c in ws[row] if c.value is not None]
    assert header and all(c.font.b for c in header)
    assert ws.freeze_panes == f"A{row + 1}" and ws.auto_filter.ref.startswith(f"A{row}:")
    assert all(column_width(ws, c.column) >= _width(c.value) for c in header)
    return {c.value: c.column - 1 for c in header}


def test_workbooks_are_named_typed_and_keep_every_digit(tmp_path):
    pkg = package()
    pkg.loc[0, "当前值"] = "=1+1"
    write_packages(tmp_path, "ps", pkg, typed_cleaned(), pd.Series(["522425", "522425"]))
    folder = tmp_path / "ps" / "522425"
    wb = openpyxl.load_workbook(folder / "纠错清单_522425.xlsx")
    assert wb.sheetnames == ["纠错清单"]
    ws = wb["纠错清单"]
    assert "CSV 供系统导入；人工查看请打开 XLSX" in ws["A2"].value
    col = _assert_header(ws, 3)
    rows = list(ws.iter_rows(min_row=4))
    assert [r[col["规则"]].value for r in rows] == ["身份证号无效"] * 3  # labels, not codes
    assert [r[col["严重程度"]].value for r in rows] == ["中"] * 3
    assert all(r[col["县代码"]].value == "522425" and r[col["建议值"]].value == "522425198001010011" for r in rows)
    assert rows[0][col["当前值"]].value == "'=1+1" and rows[0][col["当前值"]].data_type == "s"

    wb = openpyxl.load_workbook(folder / "清洗数据_522425.xlsx")
    assert wb.sheetnames == ["清洗数据"]
    ws = wb["清洗数据"]
    header_row = next(r for r in range(1, 5) if ws.cell(r, 1).value == "户编号")
    col = _assert_header(ws, header_row)
    first, second = ws[header_row + 1], ws[header_row + 2]
    assert first[col["户编号"]].value == "5224250101000001" and second[col["户编号"]].value == "0052242501"
    assert first[col["户主证件号码"]].value == "522425198001010011"
    assert first[col["家庭人口数"]].value == 3 and isinstance(first[col["家庭人口数"]].value, int)
    assert second[col["家庭人口数"]].value is None
    money = first[col["补助资金(元)"]]
    assert money.value == 11000 and money.data_type == "n" and money.number_format.endswith("0.00")
    assert first[col["竣工日期"]].is_date and first[col["竣工日期"]].number_format == "yyyy-mm-dd"

    csv = pd.read_csv(folder / "清洗数据_522425.csv", encoding="gb18030", dtype=str, keep_default_na=False)
    assert csv.iloc[0].tolist() == ["5224250101000001", "522425198001010011", "3", "11000.00", "2020-05-01"]
    assert csv.iloc[1].tolist() == ["0052242501", "52242519820202002X", "", "2500.50", ""]
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert "CSV 供系统导入；人工查看请打开 XLSX" in readme and "文本" in readme
