"""Drop folders and SFTP: the export a run takes, its date, checksum and kept copy.

The SFTP tests talk to a real asyncssh SFTP server started on 127.0.0.1 (a free port, a
temporary host key, a user and password), serving a temporary folder: no mock.
"""
from __future__ import annotations

import asyncio
import os
import socket
import threading
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from connectors.drops import DropSpec, export_date, parse_drop, resolve_drop
from connectors.errors import SourceError

AS_OF = date(2020, 7, 31)
PATTERN = "扶贫对象_{date:%Y%m%d}.csv"


def drop(folder: Path, name: str, body: bytes = b"a,b\n1,2\n", mtime: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(body)
    if mtime is not None:
        os.utime(p, (mtime, mtime))
    return p


# --- names and specs ---------------------------------------------------------------------

def test_a_drop_spec_names_location_and_pattern():
    spec = parse_drop("drop:/data/drops/ps?pattern=扶贫对象_{date:%Y%m%d}.csv")
    assert spec == DropSpec(location="/data/drops/ps", pattern="扶贫对象_{date:%Y%m%d}.csv")
    spec = parse_drop("drop:sftp://anju:${PW}@10.0.0.5:2222/exports/ha?pattern=农户档案导出_{date:%Y-%m-%d}.xlsx")
    assert spec.location == "sftp://anju:${PW}@10.0.0.5:2222/exports/ha"
    assert spec.pattern == "农户档案导出_{date:%Y-%m-%d}.xlsx"


def test_a_drop_spec_without_a_date_placeholder_is_one_line_error():
    with pytest.raises(SourceError, match=r"\{date:FORMAT\}"):
        parse_drop("drop:/data/drops/ps?pattern=ps.csv")
    with pytest.raises(SourceError, match="pattern"):
        parse_drop("drop:/data/drops/ps")


def test_names_are_read_by_the_pattern_and_its_alternative_formats():
    pattern = "农户档案导出_{date:%Y-%m-%d|%Y%m%d}.xlsx"
    assert export_date("农户档案导出_2020-07-31.xlsx", pattern) == (date(2020, 7, 31), "")
    assert export_date("农户档案导出_20200731.xlsx", pattern) == (date(2020, 7, 31), "")
    assert export_date("农户档案导出_20200731(1).xlsx", pattern) == (date(2020, 7, 31), "(1)")
    assert export_date("农户档案导出_20200731 - 副本.xlsx", pattern) == (date(2020, 7, 31), " - 副本")
    for other in ("农户档案导出_2020-02-30.xlsx", "农户档案导出_latest.xlsx", "农户档案导出_20200731.csv",
                  "x农户档案导出_20200731.xlsx", "农户档案导出_20200731.xlsx.part", "~$农户档案导出_20200731.xlsx"):
        assert export_date(other, pattern) is None, other


@hsettings(max_examples=200, deadline=None)
@given(d=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       fmt=st.sampled_from(["%Y%m%d", "%Y-%m-%d", "%Y_%m_%d", "%Y年%m月%d日"]),
       junk=st.text(max_size=12))
def test_any_dated_name_reads_back_its_date_and_junk_never_crashes(d, fmt, junk):
    pattern = "扶贫对象_{date:" + fmt + "}.csv"
    assert export_date(f"扶贫对象_{d.strftime(fmt)}.csv", pattern) == (d, "")
    got = export_date(junk, pattern)
    assert got is None or isinstance(got[0], date)


# --- choosing in a local folder ------------------------------------------------------------

@pytest.mark.parametrize("as_url", [False, True], ids=["folder", "file-url"])
def test_the_newest_export_on_or_before_as_of_is_taken_kept_and_checksummed(tmp_path, as_url):
    folder = tmp_path / "drops"
    drop(folder, "扶贫对象_20200729.csv", b"old\n")
    drop(folder, "扶贫对象_20200730.csv", b"yesterday\n")
    drop(folder, "扶贫对象_20200801.csv", b"tomorrow\n")      # after as_of: never read
    drop(folder, "readme.txt")
    drop(folder, "扶贫对象_2020073.csv")                       # a bad name: ignored
    loc = folder.as_uri() if as_url else str(folder)
    got = resolve_drop(DropSpec(loc, PATTERN), "ps_households", AS_OF, tmp_path / "kept", max_age_days=2)
    m = got.meta
    assert (m["file"], m["export_date"], m["age_days"], m["fresh"]) == ("扶贫对象_20200730.csv", "2020-07-30", 1, True)
    import hashlib
    assert m["sha256"] == hashlib.sha256(b"yesterday\n").hexdigest()
    assert m["size"] == len(b"yesterday\n") and m["same_as_previous"] is False
    assert got.path.read_bytes() == b"yesterday\n"
    assert got.path.is_relative_to(tmp_path / "kept" / "ps_households")
    # the folder moves on: the kept copy is what a re-run reads
    (folder / "扶贫对象_20200730.csv").write_bytes(b"changed\n")
    assert got.path.read_bytes() == b"yesterday\n"


def test_a_late_export_is_yesterdays_file_named_stale_past_the_threshold(tmp_path):
    folder = tmp_path / "drops"
    drop(folder, "扶贫对象_20200727.csv", b"monday\n")
    got = resolve_drop(DropSpec(str(folder), PATTERN), "ps_households", AS_OF, tmp_path / "kept", max_age_days=2)
    assert (got.meta["file"], got.meta["age_days"], got.meta["fresh"]) == ("扶贫对象_20200727.csv", 4, False)
    got = resolve_drop(DropSpec(str(folder), PATTERN), "ps_households", AS_OF, tmp_path / "kept", max_age_days=5)
    assert got.meta["fresh"] is True


def test_byte_identical_to_what_the_last_run_read_is_said(tmp_path):
    import hashlib

    folder = tmp_path / "drops"
    drop(folder, "扶贫对象_20200731.csv", b"same\n")
    got = resolve_drop(DropSpec(str(folder), PATTERN), "ps_households", AS_OF, tmp_path / "kept",
                       previous_sha256=hashlib.sha256(b"same\n").hexdigest())
    assert got.meta["same_as_previous"] is True and got.meta["fresh"] is True


def test_duplicate_drops_of_one_date_pick_the_last_delivered_and_say_so(tmp_path):
    folder = tmp_path / "drops"
    drop(folder, "扶贫对象_20200731(1).csv", b"second\n", mtime=1_596_200_000)
    drop(folder, "扶贫对象_20200731.csv", b"first\n", mtime=1_596_100_000)
    got = resolve_drop(DropSpec(str(folder), PATTERN), "ps_households", AS_OF, tmp_path / "kept")
    assert got.meta["file"] == "扶贫对象_20200731(1).csv"
    assert got.meta["duplicates"] == ["扶贫对象_20200731.csv"]
    assert "2 exports dated 2020-07-31" in got.meta["note"] and "last delivered" in got.meta["note"]
    # same delivery time: the name decides, so every run picks the same one
    os.utime(folder / "扶贫对象_20200731.csv", (1_596_200_000, 1_596_200_000))
    again = resolve_drop(DropSpec(str(folder), PATTERN), "ps_households", AS_OF, tmp_path / "kept2")
    assert again.meta["file"] == "扶贫对象_20200731(1).csv"


def test_no_export_on_or_before_as_of_is_one_line_error_naming_folder_and_pattern(tmp_path):
    folder = tmp_path / "drops"
    drop(folder, "扶贫对象_20200801.csv")
    drop(folder, "other.csv")
    with pytest.raises(SourceError) as e:
        resolve_drop(DropSpec(str(folder), PATTERN), "ps_households", AS_OF, tmp_path / "kept")
    text = str(e.value)
    assert "\n" not in text and str(folder) in text and PATTERN in text and "2020-07-31" in text
    with pytest.raises(SourceError, match="no such folder"):
        resolve_drop(DropSpec(str(tmp_path / "nowhere"), PATTERN), "ps_households", AS_OF, tmp_path / "kept")


def test_a_truncated_export_is_taken_as_it_is_its_size_recorded(tmp_path):
    """Reading cannot tell half an export from a small one: the volume guard does (test_guards)."""
    folder = tmp_path / "drops"
    full = b"".join(f"{i},x\n".encode() for i in range(1000))
    drop(folder, "扶贫对象_20200730.csv", full)
    drop(folder, "扶贫对象_20200731.csv", full[: len(full) // 2])
    got = resolve_drop(DropSpec(str(folder), PATTERN), "ps_households", AS_OF, tmp_path / "kept")
    assert got.meta["file"] == "扶贫对象_20200731.csv" and got.meta["size"] == len(full) // 2


# --- a real SFTP server --------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sftp_server(tmp_path_factory):
    """asyncssh SFTP server on 127.0.0.1, user anju / password s3cret:pw@, chrooted to a temp folder."""
    import asyncssh

    root = tmp_path_factory.mktemp("sftp-root")
    key = asyncssh.generate_private_key("ssh-ed25519")
    port = _free_port()
    loop = asyncio.new_event_loop()

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            holder.setdefault("passwords", []).append(password)
            return username == "anju" and password == "s3cret:pw@"

    started = threading.Event()
    holder = {}

    async def start():
        holder["server"] = await asyncssh.listen("127.0.0.1", port, server_host_keys=[key], server_factory=Server,
                                                 sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root))
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(30)
    known = root.parent / "known_hosts"  # what `ssh-keyscan -p PORT 127.0.0.1` would write
    known.write_text(f"[127.0.0.1]:{port} {key.export_public_key('openssh').decode().split()[0]} "
                     f"{key.export_public_key('openssh').decode().split()[1]}\n")
    yield {"root": root, "port": port, "known_hosts": known, "holder": holder}

    async def stop():
        holder["server"].close()
        await holder["server"].wait_closed()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in others:
            t.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_sftp_lists_chooses_copies_and_checksums_with_the_password_from_the_environment(sftp_server, tmp_path,
                                                                                        monkeypatch, caplog):
    import hashlib

    exports = sftp_server["root"] / "exports" / "ps"
    drop(exports, "扶贫对象_20200730.csv", "户编号\n1\n".encode("gb18030"))
    drop(exports, "扶贫对象_20200731.csv", "户编号\n1\n2\n".encode("gb18030"))
    drop(exports, "扶贫对象_20200801.csv", b"future\n")
    monkeypatch.setenv("ANJU_SFTP_PW", "s3cret:pw@")
    monkeypatch.setenv("ANJU_SFTP_KNOWN_HOSTS", str(sftp_server["known_hosts"]))
    url = f"sftp://anju:${{ANJU_SFTP_PW}}@127.0.0.1:{sftp_server['port']}/exports/ps"
    caplog.set_level("DEBUG")
    got = resolve_drop(DropSpec(url, PATTERN), "ps_households", AS_OF, tmp_path / "kept")
    assert got.meta["file"] == "扶贫对象_20200731.csv" and got.meta["export_date"] == "2020-07-31"
    assert got.meta["sha256"] == hashlib.sha256("户编号\n1\n2\n".encode("gb18030")).hexdigest()
    assert got.path.read_bytes() == "户编号\n1\n2\n".encode("gb18030")
    assert got.meta["location"] == f"sftp://anju:***@127.0.0.1:{sftp_server['port']}/exports/ps"
    assert "s3cret" not in repr(got.meta) and "s3cret" not in caplog.text


def test_sftp_wrong_password_is_one_line_source_error_not_retried(sftp_server, tmp_path, monkeypatch):
    from flows.runtime import is_transient

    drop(sftp_server["root"] / "exports" / "ha", "扶贫对象_20200731.csv")
    monkeypatch.setenv("ANJU_SFTP_PW", "wrong")
    monkeypatch.setenv("ANJU_SFTP_KNOWN_HOSTS", str(sftp_server["known_hosts"]))
    url = f"sftp://anju:${{ANJU_SFTP_PW}}@127.0.0.1:{sftp_server['port']}/exports/ha"
    with pytest.raises(SourceError) as e:
        resolve_drop(DropSpec(url, PATTERN), "ps_households", AS_OF, tmp_path / "kept")
    text = str(e.value)
    assert "\n" not in text and "authentication" in text.lower() and "wrong" not in text
    assert not is_transient(e.value)


@pytest.mark.parametrize("known", ["absent", "another key"])
def test_an_unknown_or_changed_host_key_is_refused_before_the_password_is_sent(sftp_server, tmp_path, monkeypatch,
                                                                             known):
    """No trust on first use: a machine in the middle would take the password and forge exports."""
    import asyncssh

    from flows.runtime import is_transient

    hosts = tmp_path / "known_hosts"
    if known == "another key":
        other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()
        hosts.write_text(f"[127.0.0.1]:{sftp_server['port']} {other[0]} {other[1]}\n")
    monkeypatch.setenv("ANJU_SFTP_KNOWN_HOSTS", str(hosts))
    monkeypatch.setenv("ANJU_SFTP_PW", "s3cret:pw@")
    sftp_server["holder"]["passwords"] = []
    url = f"sftp://anju:${{ANJU_SFTP_PW}}@127.0.0.1:{sftp_server['port']}/exports/ps"
    with pytest.raises(SourceError) as e:
        resolve_drop(DropSpec(url, PATTERN), "ps_households", AS_OF, tmp_path / "kept")
    text = str(e.value)
    assert "\n" not in text and "SHA256:" in text and "ssh-keyscan" in text and "s3cret" not in text
    assert ("differs" in text) == (known == "another key")
    assert not is_transient(e.value)
    assert sftp_server["holder"]["passwords"] == []  # the password never left


def test_sftp_server_down_is_a_transient_error(tmp_path, monkeypatch):
    from flows.runtime import is_transient

    monkeypatch.setenv("ANJU_SFTP_PW", "x")
    url = f"sftp://anju:${{ANJU_SFTP_PW}}@127.0.0.1:{_free_port()}/exports"
    with pytest.raises(SourceError) as e:
        resolve_drop(DropSpec(url, PATTERN), "ps_households", AS_OF, tmp_path / "kept")
    assert is_transient(e.value) and "cannot connect" in str(e.value) and "\n" not in str(e.value)


def test_sftp_missing_password_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("ANJU_SFTP_NOPE", raising=False)
    with pytest.raises(SourceError, match="ANJU_SFTP_NOPE"):
        resolve_drop(DropSpec("sftp://anju:${ANJU_SFTP_NOPE}@127.0.0.1:1/x", PATTERN), "ps_households", AS_OF,
                     tmp_path / "kept")


# --- the flow-side rules (flows/drops_flow.py) ---------------------------------------------

def _publish(out: Path, as_of: str, inputs: dict) -> None:
    """A published run folder as the flow leaves it (only what the drop rules read)."""
    import json

    folder = out / ".runs" / as_of / "r1"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run_id": "r1", "as_of": as_of, "inputs": inputs}), encoding="utf-8")
    (out / as_of).symlink_to(folder.relative_to(out))


def test_a_rerun_of_a_published_date_reads_the_kept_copy_not_the_moved_on_folder(tmp_path):
    from flows.drops_flow import DropPolicy, resolve_locations

    folder, out = tmp_path / "drops", tmp_path / "out"
    drop(folder, "扶贫对象_20200731.csv", b"as published\n")
    locations = {"ps_households": f"drop:{folder}?pattern={PATTERN}", "ha_archive": "/plain/ha.xlsx"}
    local, drops = resolve_locations(locations, out, AS_OF)
    assert local["ha_archive"] == "/plain/ha.xlsx" and set(drops) == {"ps_households"}
    assert Path(local["ps_households"]).is_relative_to(out / ".inputs" / "2020-07-31" / "ps_households")
    _publish(out, "2020-07-31", {"ps_households": {"sha256": drops["ps_households"]["sha256"],
                                                   "drop": drops["ps_households"]}})
    drop(folder, "扶贫对象_20200731(1).csv", b"re-delivered\n", mtime=2_000_000_000)
    again, d2 = resolve_locations(locations, out, AS_OF)
    assert Path(again["ps_households"]).read_bytes() == b"as published\n" and d2["ps_households"]["reused"] is True
    fresh, d3 = resolve_locations(locations, out, AS_OF, DropPolicy(reuse_inputs=False))
    assert Path(fresh["ps_households"]).read_bytes() == b"re-delivered\n" and d3["ps_households"]["reused"] is False
    # the kept copy lost or altered: the folder is read again, never a copy that is not what was read
    Path(local["ps_households"]).write_bytes(b"tampered\n")
    _, d4 = resolve_locations(locations, out, AS_OF)
    assert d4["ps_households"]["reused"] is False and d4["ps_households"]["file"] == "扶贫对象_20200731(1).csv"


def test_unchanged_bytes_are_compared_with_the_last_published_run_before_the_date(tmp_path):
    import hashlib

    from flows.drops_flow import resolve_locations

    folder, out = tmp_path / "drops", tmp_path / "out"
    drop(folder, "扶贫对象_20200731.csv", b"same\n")
    _publish(out, "2020-07-30", {"ps_households": {"sha256": hashlib.sha256(b"same\n").hexdigest()}})
    _publish(out, "2020-07-31", {"ps_households": {"sha256": "f" * 64}})  # this date's own run: not "the last"
    _, drops = resolve_locations({"ps_households": f"drop:{folder}?pattern={PATTERN}"}, out, AS_OF)
    assert drops["ps_households"]["same_as_previous"] is True
    assert drops["ps_households"]["previous_run"] == "2020-07-30"


def test_a_stale_export_holds_by_default_an_unchanged_one_is_only_named(tmp_path):
    from flows.drops_flow import DropPolicy, ExportHold, check_exports
    from flows.runtime import known_errors

    stale = {"file": "扶贫对象_20200727.csv", "export_date": "2020-07-27", "age_days": 4, "max_age_days": 2,
             "fresh": False, "same_as_previous": False, "sha256": "0" * 64, "note": ""}
    with pytest.raises(ExportHold) as e:
        check_exports({"ps_households": stale}, AS_OF)
    assert isinstance(e.value, known_errors()) and "\n" not in str(e.value)
    assert "扶贫对象_20200727.csv (4 day(s) old, stale: more than 2)" in str(e.value)
    found = check_exports({"ps_households": stale}, AS_OF, DropPolicy(hold_stale=False))
    assert [f["kind"] for f in found] == ["stale"]
    same = {**stale, "export_date": "2020-07-31", "age_days": 0, "fresh": True, "same_as_previous": True,
            "previous_run": "2020-07-30"}
    assert [f["kind"] for f in check_exports({"ps_households": same}, AS_OF)] == ["unchanged"]
    with pytest.raises(ExportHold, match="byte-identical"):
        check_exports({"ps_households": same}, AS_OF, DropPolicy(hold_unchanged=True))
