"""File sources: every encoding and layout reads to the same canonical frame."""
from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from connectors import SourceError, read_source
from connectors.native import write_csv, write_xlsx

HEADERS = ["档案编号", "村级区划代码", "户主姓名", "身份证号码", "家庭人口", "农户类型", "竣工日期"]
ROWS = [["DA1", "522425100201", "张三", "522425198001010011", "3", "建档立卡贫困户", "2020/5/31"],
        ["DA2", "522425100202", "李四", "52242519820202002X", "2", "低保户", ""]]


def frame():
    return pd.DataFrame(ROWS, columns=HEADERS)


def canonical(src):
    return src.frame.drop(columns="_row").reset_index(drop=True)


@pytest.mark.parametrize("encoding, reported", [("gb18030", "gbk"), ("gbk", "gbk"), ("utf-8", "utf-8"),
                                                ("utf-8-sig", "utf-8 with BOM")])
def test_csv_encodings_are_detected(tmp_path, specs, encoding, reported):
    path = tmp_path / "ha.csv"
    write_csv(frame(), path, encoding)
    src = read_source(path, specs["ha_archive"])
    assert src.meta["encoding"] == reported
    assert src.frame["householder_name"].tolist() == ["张三", "李四"]
    assert src.frame["_row"].tolist() == [2, 3]


def test_gb18030_only_characters_are_read(tmp_path, specs):
    path = tmp_path / "ha.csv"
    f = frame()
    f.loc[0, "户主姓名"] = "张𠀀"  # outside GBK: needs GB18030
    write_csv(f, path, "gb18030")
    src = read_source(path, specs["ha_archive"])
    assert src.meta["encoding"] == "gb18030" and src.frame["householder_name"][0] == "张𠀀"


@pytest.mark.parametrize("sep", ["\t", ";", "|"])
def test_delimiter_is_sniffed(tmp_path, specs, sep):
    path = tmp_path / "ha.csv"
    frame().to_csv(path, sep=sep, index=False, encoding="gb18030")
    assert read_source(path, specs["ha_archive"]).frame["archive_no"].tolist() == ["DA1", "DA2"]


def test_xlsx_with_title_note_and_totals(tmp_path, specs):
    path = tmp_path / "ha.xlsx"
    write_xlsx(frame(), path, title="XX县农村危房改造农户档案信息表", note="填报单位：XX县住建局  填报日期：2020年7月31日")
    src = read_source(path, specs["ha_archive"])
    assert src.meta["header_row"] == 3
    assert src.frame["archive_no"].tolist() == ["DA1", "DA2"]
    assert src.frame["_row"].tolist() == [4, 5]
    assert [s["reason"] for s in src.meta["skipped_rows"]] == ["totals"]


def test_xlsx_two_row_merged_header(tmp_path, specs):
    path = tmp_path / "ha.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["某县农户档案"])
    ws.append(["档案编号", "村级区划代码", "户主", None, "家庭人口", "农户类型"])
    ws.append([None, None, "姓名", "身份证号", None, None])
    ws.merge_cells("C2:D2")
    ws.append(["DA1", "522425100201", "张三", "522425198001010011", 3, "建档立卡贫困户"])
    wb.save(path)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("ha_archive:\n  householder_id: [户主身份证号]\n", encoding="utf-8")
    from schemas import load_source_specs

    src = read_source(path, load_source_specs(mapping)["ha_archive"])
    assert src.meta["header_rows"] == 2
    assert src.frame[["householder_name", "householder_id", "household_size"]].values.tolist() == \
        [["张三", "522425198001010011", "3"]]


def test_xlsx_numeric_id_is_kept_as_excel_shows_it(tmp_path, specs):
    path = tmp_path / "ha.xlsx"
    f = frame().astype(object)
    f.loc[0, "身份证号码"] = float("522425198001010011")
    f.loc[1, "身份证号码"] = "'52242519820202002X"
    f.loc[0, "家庭人口"] = 3
    write_xlsx(f, path)
    src = read_source(path, specs["ha_archive"])
    assert src.frame["householder_id"].tolist() == ["5.2242519800101E+17", "'52242519820202002X"]
    assert src.frame["household_size"][0] == "3"


def test_same_export_as_csv_xlsx_parquet_and_postgres_gives_identical_frames(tmp_path, specs):
    import uuid

    import sqlalchemy as sa

    from tests.conftest import database_url

    write_csv(frame(), tmp_path / "a.csv")
    write_xlsx(frame(), tmp_path / "a.xlsx", title="标题")
    frame().to_parquet(tmp_path / "a.parquet")
    url = database_url("postgres")
    table = f"ha_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    frame().to_sql(table, engine, index=False)
    try:
        frames = [canonical(read_source(tmp_path / n, specs["ha_archive"]))
                  for n in ("a.csv", "a.xlsx", "a.parquet")] + [canonical(read_source(f"{url}#{table}",
                                                                                       specs["ha_archive"]))]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE "{table}"'))
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other)


def test_unknown_columns_are_kept_and_reported(tmp_path, specs):
    f = frame().assign(备注=["a", "b"])
    write_csv(f, tmp_path / "a.csv")
    src = read_source(tmp_path / "a.csv", specs["ha_archive"])
    assert src.meta["unknown_columns"] == ["备注"] and src.frame["extra:备注"].tolist() == ["a", "b"]


def test_ragged_rows_are_rejected_with_their_line_and_counted(tmp_path, specs):
    path = tmp_path / "a.csv"
    text = ",".join(HEADERS) + "\n" + ",".join(ROWS[0]) + "\n" + ",".join(ROWS[1]) + ",extra,more\n"
    path.write_text(text, encoding="gb18030")
    src = read_source(path, specs["ha_archive"])
    assert src.frame["archive_no"].tolist() == ["DA1"]
    assert src.meta["rejected_rows"][0]["row"] == 3
    assert src.meta["rows_read"] == 2


# --- bad input: one clear error naming the place and what was expected ---------------------------

def _error(path, spec) -> str:
    with pytest.raises(SourceError) as e:
        read_source(path, spec)
    return str(e.value)


def test_empty_file(tmp_path, specs):
    (tmp_path / "a.csv").write_bytes(b"")
    assert "a.csv: the file is empty" in _error(tmp_path / "a.csv", specs["ha_archive"])


def test_binary_file_named_csv(tmp_path, specs):
    (tmp_path / "a.csv").write_bytes(b"PK\x03\x04\x00\x00binary\x00stuff")
    assert "binary content" in _error(tmp_path / "a.csv", specs["ha_archive"])


def test_undecodable_bytes_name_the_line(tmp_path, specs):
    (tmp_path / "a.csv").write_bytes(",".join(HEADERS).encode("gbk") + b"\nDA1,\xff\xff\xff\n")
    msg = _error(tmp_path / "a.csv", specs["ha_archive"])
    assert "row 2" in msg and "GB18030" in msg


def test_corrupt_xlsx(tmp_path, specs):
    write_xlsx(frame(), tmp_path / "a.xlsx")
    data = (tmp_path / "a.xlsx").read_bytes()
    (tmp_path / "b.xlsx").write_bytes(data[: len(data) // 2])
    assert "b.xlsx" in _error(tmp_path / "b.xlsx", specs["ha_archive"])
    (tmp_path / "c.xlsx").write_bytes(b"not a zip at all")
    assert "not a readable XLSX" in _error(tmp_path / "c.xlsx", specs["ha_archive"])


def test_no_header_row(tmp_path, specs):
    pd.DataFrame([["a", "b"], ["c", "d"]]).to_csv(tmp_path / "a.csv", index=False, header=False)
    msg = _error(tmp_path / "a.csv", specs["ha_archive"])
    assert "no header row found" in msg and "档案编号" in msg


def test_duplicated_headers(tmp_path, specs):
    f = frame().assign(证件号码=["x", "y"])
    write_csv(f, tmp_path / "a.csv")
    msg = _error(tmp_path / "a.csv", specs["ha_archive"])
    assert "duplicated header" in msg and "row 1" in msg


def test_missing_required_column_lists_found_headers_and_aliases(tmp_path, specs):
    write_csv(frame().drop(columns=["农户类型"]), tmp_path / "a.csv")
    msg = _error(tmp_path / "a.csv", specs["ha_archive"])
    assert "target_type" in msg and "重点对象类型" in msg and "户主姓名" in msg


def test_missing_file(tmp_path, specs):
    assert "no such file" in _error(tmp_path / "nope.csv", specs["ha_archive"])


def test_legacy_xls(specs):
    """fixtures/ha_legacy.xls was written once with xlwt: title, note, header, two rows, totals."""
    from pathlib import Path

    src = read_source(Path(__file__).parent / "fixtures" / "ha_legacy.xls", specs["ha_archive"])
    assert src.meta["format"] == "xls" and src.meta["sheet"] == "农户档案" and src.meta["header_row"] == 3
    assert src.frame["archive_no"].tolist() == ["DA1", "DA2"]
    assert src.frame["completion_date"].tolist() == ["2020-05-31", ""]
    assert src.frame["householder_id"].tolist() == ["522425198001010011", "5.2242519820202E+17"]
    assert src.frame["household_size"].tolist() == ["3", "2"]
