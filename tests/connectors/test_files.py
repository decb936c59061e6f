"""File sources: every encoding and layout reads to the same canonical frame."""
from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from connectors import SourceError, read_source
from connectors.native import write_csv, write_xlsx
from reconcile.masking import masked_rows

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
    """Every data line undecodable: not a text file in any encoding we read, and the error says where."""
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


# --- issue 14: no file breaks the reader; every row accounted for with its right number ---------

ID = "522425198001010011"


def _csv(path, lines: list[str], encoding="utf-8"):
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _row(no: str, ident: str = ID, name: str = "张三") -> str:
    return f"{no},522425100201,{name},{ident},3,建档立卡贫困户,2020/5/31"


def _accounted(src) -> None:
    assert src.meta["rows_read"] == len(src.frame) + len(src.meta["rejected_rows"])


def test_rows_after_a_rejected_long_row_keep_their_numbers_and_the_id_is_masked(tmp_path, specs):
    path = _csv(tmp_path / "a.csv", [",".join(HEADERS), _row("DA1"), _row("DA2") + ",extra", _row("DA3"), _row("DA4")])
    src = read_source(path, specs["ha_archive"])
    assert src.frame["archive_no"].tolist() == ["DA1", "DA3", "DA4"]
    assert src.frame["_row"].tolist() == [2, 4, 5]
    [rej] = src.meta["rejected_rows"]
    assert rej["row"] == 3 and ID in rej["text"]  # raw: the core masks it (reconcile.masking)
    [shown] = masked_rows([rej])
    assert ID not in shown["text"] and "522425********0011" in shown["text"] and len(shown["text"]) <= 80
    _accounted(src)


def test_first_data_row_with_extra_values_is_rejected_not_cut(tmp_path, specs):
    path = _csv(tmp_path / "a.csv", [",".join(HEADERS), _row("DA1") + ",stray", _row("DA2")])
    src = read_source(path, specs["ha_archive"])
    assert src.frame["archive_no"].tolist() == ["DA2"] and src.frame["_row"].tolist() == [3]
    assert [r["row"] for r in src.meta["rejected_rows"]] == [2]


@pytest.mark.parametrize("ragged", [False, True])
def test_short_rows_and_quoted_newlines_number_later_rows_by_their_line(tmp_path, specs, ragged):
    lines = ["某县农户档案", ",".join(HEADERS), _row("DA1"), "DA2,522425100202,李四",
             'DA3,522425100203,"王\n五",' + ID + ",2,低保户,", _row("DA4")]
    if ragged:  # one long row sends the file down the slow path: same numbers there
        lines.append(_row("DA5") + ",x,y")
    lines.append(_row("DA6"))
    src = read_source(_csv(tmp_path / "a.csv", lines), specs["ha_archive"])
    assert src.frame["archive_no"].tolist() == ["DA1", "DA2", "DA3", "DA4", "DA6"]
    assert src.frame["_row"].tolist() == [3, 4, 5, 7, 9 if ragged else 8]
    assert src.frame["householder_name"][2] == "王\n五"
    assert [r["row"] for r in src.meta["rejected_rows"]] == ([8] if ragged else [])
    _accounted(src)


def test_header_only_csv_is_an_empty_source_or_a_clear_error(tmp_path, specs):
    (tmp_path / "m.csv").write_text("户编号,姓名,证件号码,与户主关系,性别\n", encoding="utf-8")
    src = read_source(tmp_path / "m.csv", specs["ps_members"])
    assert len(src.frame) == 0 and src.meta["rows_read"] == 0 and "household_no" in src.frame.columns
    path = _csv(tmp_path / "ha.csv", [",".join(HEADERS)])
    msg = _error(path, specs["ha_archive"])
    assert "ha.csv" in msg and "no data rows under the header" in msg


def test_header_only_xlsx_is_a_clear_error_for_the_archive(tmp_path, specs):
    write_xlsx(frame().iloc[:0], tmp_path / "ha.xlsx", title="标题")
    msg = _error(tmp_path / "ha.xlsx", specs["ha_archive"])
    assert "ha.xlsx" in msg and "no data rows under the header" in msg


def _damage(src, dst, member, content: bytes):
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, content if item.filename == member else zin.read(item.filename))


@pytest.mark.parametrize("member, sheet", [("xl/worksheets/sheet1.xml", "Sheet1"), ("xl/workbook.xml", None),
                                           ("xl/_rels/workbook.xml.rels", None), ("xl/styles.xml", None)])
def test_xlsx_with_damaged_xml_inside(tmp_path, specs, member, sheet):
    write_xlsx(frame(), tmp_path / "a.xlsx")
    _damage(tmp_path / "a.xlsx", tmp_path / "b.xlsx", member, b"<?xml version='1.0'?><worksheet><sheetData><row>")
    msg = _error(tmp_path / "b.xlsx", specs["ha_archive"])
    assert "b.xlsx" in msg
    if sheet:
        assert f"sheet {sheet!r}" in msg


def _big_lines(n: int) -> list[str]:
    return [",".join(HEADERS)] + [_row(f"DA{i}", ident=f"522425198001{i % 10000:04d}11") for i in range(n)]


@pytest.mark.parametrize("at", [5, 2000])  # before and after the first 64 KB
def test_a_line_with_nul_bytes_is_rejected_wherever_it_is(tmp_path, specs, at):
    lines = _big_lines(2500)
    lines[at] = lines[at].replace("张三", "张\x00三")
    path = _csv(tmp_path / "a.csv", lines)
    assert path.stat().st_size > 65536
    src = read_source(path, specs["ha_archive"])
    [rej] = src.meta["rejected_rows"]
    assert rej["row"] == at + 1 and "NUL" in rej["reason"]
    assert len(src.frame) == 2499 and not src.frame["householder_name"].str.contains("\x00").any()
    assert f"DA{at - 1}" not in src.frame["archive_no"].tolist()
    _accounted(src)


def test_mostly_nul_file_is_binary(tmp_path, specs):
    (tmp_path / "a.csv").write_bytes(",".join(HEADERS).encode() + b"\n" + b"\x00" * 5000 + b"\n\x00\x00\n")
    assert "binary content" in _error(tmp_path / "a.csv", specs["ha_archive"])


def test_one_gbk_line_in_a_utf8_file_is_rejected_at_its_row(tmp_path, specs):
    lines = _big_lines(50)
    path = tmp_path / "a.csv"
    body = [line.encode("utf-8") for line in lines]
    body[30] = lines[30].encode("gbk")
    path.write_bytes(b"\n".join(body) + b"\n")
    src = read_source(path, specs["ha_archive"])
    assert src.meta["encoding"] == "utf-8"
    [rej] = src.meta["rejected_rows"]
    assert rej["row"] == 31 and "utf-8" in rej["reason"].lower() and ID[:6] in rej["text"]
    assert (src.frame["householder_name"] == "张三").all() and len(src.frame) == 49
    assert src.frame["_row"].tolist() == [r for r in range(2, 52) if r != 31]
    _accounted(src)


@pytest.mark.parametrize("encoding, bom, reported", [("utf-16-le", b"\xff\xfe", "utf-16le"),
                                                     ("utf-16-be", b"\xfe\xff", "utf-16be"),
                                                     ("utf-16-le", b"", "utf-16le")])
def test_excel_unicode_text_is_read_as_utf16(tmp_path, specs, encoding, bom, reported):
    text = "\r\n".join("\t".join(r) for r in [HEADERS, *ROWS]) + "\r\n"
    (tmp_path / "a.txt").write_bytes(bom + text.encode(encoding))
    src = read_source(tmp_path / "a.txt", specs["ha_archive"])
    assert src.meta["encoding"] == reported and src.meta["delimiter"] == "\t"
    assert src.frame["householder_name"].tolist() == ["张三", "李四"] and src.frame["_row"].tolist() == [2, 3]


def test_skipped_rows_text_is_handed_on_raw_and_masked_by_the_core(tmp_path, specs):
    path = _csv(tmp_path / "a.csv", [",".join(HEADERS), _row("DA1"), f",填报人：{ID},,,,,"])
    src = read_source(path, specs["ha_archive"])
    [skipped] = src.meta["skipped_rows"]
    assert skipped["row"] == 3 and skipped["reason"] == "note" and ID in skipped["text"]
    [shown] = masked_rows([skipped])
    assert shown["row"] == 3 and ID not in shown["text"] and ID[:6] + "********" + ID[-4:] in shown["text"]


def test_an_id_across_the_shown_cut_is_masked_before_the_cut(tmp_path, specs):
    """Cut first, mask second would leave the first digits of an ID straddling character 80."""
    note = "填报人：" + "说" * 65 + " " + ID  # the ID starts at character 70: 10 of its characters are shown
    path = _csv(tmp_path / "a.csv", [",".join(HEADERS), _row("DA1"), f",{note},,,,,"])
    [skipped] = read_source(path, specs["ha_archive"]).meta["skipped_rows"]
    assert skipped["text"] == note
    [shown] = masked_rows([skipped])
    assert shown["text"] == note[:70] + ID[:6] + "****"


def test_xlsx_blank_row_under_the_header_and_a_stray_cell_is_no_merged_header(tmp_path, specs):
    """A padded sheet (a note far right) with a blank row under the header: the header's last label
    must not be stretched over the empty columns as if it were a merged group."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADERS)
    ws.append([None])
    ws.append(ROWS[0] + ["", "备注"])
    wb.save(tmp_path / "a.xlsx")
    src = read_source(tmp_path / "a.xlsx", specs["ha_archive"])
    assert src.frame["archive_no"].tolist() == ["DA1"] and src.frame["_row"].tolist() == [3]
