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
