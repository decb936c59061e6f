"""Drop folders: the dated exports an agency's nightly job leaves in a folder or on an SFTP server.

A drop source is written ``drop:<location>?pattern=<name with {date:FORMAT}>``: the
location a local folder, a ``file://`` URL, an ``sftp://user:${VAR}@host[:port]/path`` URL
(the password from the environment, never on a command line nor in a log), or any other
URL fsspec serves. The pattern's ``{date:%Y%m%d}`` may list alternatives
(``{date:%Y-%m-%d|%Y%m%d}``) when an agency changed its export job.

:func:`resolve_drop` takes the newest export dated on or before ``as_of`` and copies its
bytes into a kept folder (``<keep>/<source>/<sha256[:16]>/<name>``: content-addressed, so
the same bytes are kept once and a later re-delivery of that date never overwrites
what an earlier run read). What the run reads is that copy, never the drop folder.

An SFTP server is trusted only when its host key is already known: the files named by
``ANJU_SFTP_KNOWN_HOSTS`` (``os.pathsep``-separated), else ``~/.ssh/known_hosts``. No key is
trusted on first use: an unknown or changed key would let a machine in the middle take
the password and hand over forged exports. Add a server once with
``ssh-keyscan -p PORT HOST >> known_hosts``.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from connectors.errors import SourceError
from connectors.sql import TransientSourceError, expand_env

PREFIX = "drop:"
PLACEHOLDER = re.compile(r"\{date:([^{}]+)\}")
# strftime directives a dated name uses; %m and %d may come unpadded (2020年7月31日)
DIRECTIVES = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{1,2}", "d": r"\d{1,2}", "j": r"\d{3}"}
# what a second copy of the same file is called by people and tools: "(1)", "（1）", " - 副本", " - Copy"
COPY_MARK = r"(?P<copy>\s*(?:[(（]\d+[)）]|-\s*(?:副本|Copy|copy)(?:\s*[(（]\d+[)）])?))?"
CONNECT_TIMEOUT = 30  # seconds for a TCP connection, the SSH banner and authentication
KNOWN_HOSTS_ENV = "ANJU_SFTP_KNOWN_HOSTS"


def is_drop_location(location: str) -> bool:
    return str(location).startswith(PREFIX)


@dataclass(frozen=True)
class DropSpec:
    location: str
    pattern: str


@dataclass
class Drop:
    path: Path          # the kept local copy: what the run reads
    meta: dict          # for run.json: location (password hidden), file, export_date, sha256, ...


def parse_drop(text: str) -> DropSpec:
    """``drop:<location>?pattern=<pattern>`` (the ``drop:`` prefix optional)."""
    body = text[len(PREFIX):] if is_drop_location(text) else text
    location, sep, pattern = body.rpartition("?pattern=")
    if not sep or not location:
        raise SourceError(display(body), "a drop source needs a file-name pattern",
                          expected="drop:<folder or URL>?pattern=<name with {date:FORMAT}>")
    _check_pattern(pattern, location)
    return DropSpec(location=location, pattern=pattern)


def _check_pattern(pattern: str, location: str) -> None:
    found = PLACEHOLDER.findall(pattern)
    if len(found) != 1:
        raise SourceError(display(location), f"pattern {pattern!r} must hold one {{date:FORMAT}}",
                          expected="e.g. 扶贫对象_{date:%Y%m%d}.csv")
    for fmt in found[0].split("|"):
        bad = [d for d in re.findall(r"%(.)", fmt) if d not in DIRECTIVES and d != "%"]
        if bad or not re.search(r"%[Yy]", fmt):
            raise SourceError(display(location), f"pattern {pattern!r}: date format {fmt!r} is not usable in a name",
                              expected="a {date:FORMAT} with %Y (or %y), %m, %d")


def _format_regex(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            out.append("%" if fmt[i + 1] == "%" else DIRECTIVES[fmt[i + 1]])
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)


def _name_regex(pattern: str) -> tuple[re.Pattern, list[str]]:
    m = PLACEHOLDER.search(pattern)
    formats = m.group(1).split("|")
    head, tail = pattern[:m.start()], pattern[m.end():]
    stem, dot, ext = tail.rpartition(".")
    if not dot:
        stem, ext = tail, ""
    alts = "|".join(f"(?P<f{i}>{_format_regex(f)})" for i, f in enumerate(formats))
    rx = "^" + re.escape(head) + f"(?:{alts})" + re.escape(stem) + COPY_MARK + (re.escape("." + ext) if dot else "") + "$"
    return re.compile(rx), formats


def _unpadded(d: date, fmt: str) -> str:
    return d.strftime(fmt.replace("%m", str(d.month)).replace("%d", str(d.day)))


def export_date(name: str, pattern: str) -> tuple[date, str] | None:
    """The date in ``name`` and its copy mark ("" for the plain name), or None when the name
    does not follow ``pattern`` or its date is no calendar date (2020-02-30)."""
    rx, formats = _name_regex(pattern)
    m = rx.match(name)
    if m is None:
        return None
    for i, fmt in enumerate(formats):
        text = m.group(f"f{i}")
        if text is None:
            continue
        try:
            d = datetime.strptime(text, fmt).date()
        except ValueError:
            return None
        # strptime is lenient (it reads 2020073 as 2020-07-03): the name must be how that date is written
        if text not in (d.strftime(fmt), _unpadded(d, fmt)):
            return None
        return d, m.group("copy") or ""
    return None


def display(location: str) -> str:
    """A location fit for logs and run.json: any password replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", str(location))


# --- file systems -------------------------------------------------------------------------

def _filesystem(location: str):
    """(fsspec file system, path inside it) for a folder or URL; credentials expanded here only."""
    import fsspec

    if "://" not in location:
        return fsspec.filesystem("file"), str(Path(location).expanduser().resolve())
    parts = urlsplit(location)
    if parts.scheme == "sftp":
        return _sftp(location, parts), unquote(parts.path) or "/"
    try:
        return fsspec.core.url_to_fs(expand_env(location), skip_instance_cache=True)
    except (ImportError, ValueError) as e:  # the message may hold the expanded URL: only its type is shown
        raise SourceError(display(location), f"no file system for {parts.scheme}:// ({type(e).__name__})",
                          expected="a folder, file://, sftp:// or another URL fsspec serves") from None


def _known_hosts_files() -> list[Path]:
    named = os.environ.get(KNOWN_HOSTS_ENV)
    return [Path(p).expanduser() for p in named.split(os.pathsep) if p] if named else \
        [Path("~/.ssh/known_hosts").expanduser()]


def _fingerprint(key) -> str:
    import base64

    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _known_hosts_only():
    """A paramiko policy that accepts a server only if its key is in the known-hosts files."""
    import paramiko

    class UnknownHostKey(paramiko.SSHException):
        pass

    class KnownHostsOnly(paramiko.MissingHostKeyPolicy):
        def __init__(self, files: list[Path]):
            self.files, self.keys = files, paramiko.HostKeys()
            for f in files:
                if f.is_file():
                    self.keys.load(str(f))

        def missing_host_key(self, client, hostname, key):
            if not self.keys.check(hostname, key):
                known = hostname in self.keys
                raise UnknownHostKey(f"the server's {key.get_name()} host key {_fingerprint(key)} "
                                     f"{'differs from the one' if known else 'is not'} in "
                                     f"{os.pathsep.join(str(f) for f in self.files)}")

    return KnownHostsOnly(_known_hosts_files()), UnknownHostKey


def _sftp(location: str, parts):
    from fsspec.implementations.sftp import SFTPFileSystem
    import paramiko

    netloc = parts.netloc
    auth, _, hostport = netloc.rpartition("@")
    user, has_pw, password = auth.partition(":")
    host, _, port = hostport.partition(":")
    try:
        user, password = expand_env(unquote(user)), expand_env(unquote(password)) if has_pw else None
    except SourceError as e:
        raise SourceError(display(location), e.problem, expected=e.expected) from None
    kwargs = {"port": int(port) if port else 22, "username": user or None, "timeout": CONNECT_TIMEOUT,
              "banner_timeout": CONNECT_TIMEOUT, "auth_timeout": CONNECT_TIMEOUT}
    if password is not None:
        kwargs.update(password=password, look_for_keys=False, allow_agent=False)
    policy, unknown_key = _known_hosts_only()
    try:
        return SFTPFileSystem(host, skip_instance_cache=True, host_key_policy=policy, **kwargs)
    except unknown_key as e:  # before any password is sent; never retried
        raise SourceError(display(location), f"refused to log in: {e}",
                          expected=f"a known server: ssh-keyscan -p {kwargs['port']} {host} >> known_hosts "
                                   f"(file named by {KNOWN_HOSTS_ENV})") from None
    except paramiko.AuthenticationException:
        raise SourceError(display(location), f"SFTP authentication failed for user {user!r}",
                          expected="the user and password the server accepts (password from ${VAR})") from None
    except (OSError, EOFError, paramiko.SSHException) as e:  # refused, unreachable, timed out, no SSH banner
        reason = " ".join(str(e).split()) or type(e).__name__
        raise TransientSourceError(display(location), f"cannot connect to the SFTP server ({reason})",
                                   expected="an SFTP server answering on that host and port") from None


def _close(fs) -> None:
    client = getattr(fs, "client", None)
    if client is not None:
        client.close()


def _mtime(entry: dict) -> float:
    t = entry.get("mtime", entry.get("created", 0))
    return t.timestamp() if isinstance(t, datetime) else float(t or 0)


def list_exports(fs, folder: str, pattern: str) -> list[dict]:
    """Every file of ``folder`` that follows ``pattern``: name, date, copy mark, size, mtime."""
    entries = fs.ls(folder, detail=True)
    found = []
    for e in entries:
        if e.get("type") != "file":
            continue
        name = e["name"].rstrip("/").rsplit("/", 1)[-1]
        parsed = export_date(name, pattern)
        if parsed:
            found.append({"name": name, "path": e["name"], "date": parsed[0], "copy": parsed[1],
                          "size": int(e.get("size") or 0), "mtime": _mtime(e)})
    return found


def choose(exports: list[dict], as_of: date) -> tuple[dict | None, list[dict]]:
    """The newest export dated on or before ``as_of``, and the other copies of that date.

    Two files of one date (a job that ran twice, "(1)" copies): the one delivered last
    (modification time), then the later copy ("(2)" after "(1)" after the plain name), then
    the greater name, so every run over the same folder picks the same file."""
    eligible = [e for e in exports if e["date"] <= as_of]
    if not eligible:
        return None, []
    newest = max(e["date"] for e in eligible)
    same = sorted((e for e in eligible if e["date"] == newest), key=lambda e: (e["mtime"], _copy_no(e["copy"]), e["name"]))
    return same[-1], same[:-1]


def _copy_no(mark: str) -> int:
    digits = re.findall(r"\d+", mark)
    return int(digits[-1]) if digits else (1 if mark else 0)


def _copy(fs, entry: dict, dest_root: Path, shown: str) -> tuple[Path, str, int]:
    """The export's bytes into ``dest_root/<sha256[:16]>/<name>``, hashed on the way."""
    dest_root.mkdir(parents=True, exist_ok=True)
    tmp = dest_root / f".{entry['name']}.{os.getpid()}.part"
    h, size = hashlib.sha256(), 0
    try:
        with fs.open(entry["path"], "rb") as src, open(tmp, "wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                h.update(block)
                out.write(block)
                size += len(block)
            out.flush()
            os.fsync(out.fileno())
    except (OSError, EOFError, socket.timeout) as e:
        tmp.unlink(missing_ok=True)
        raise TransientSourceError(f"{shown}/{entry['name']}", f"the copy broke off ({e})",
                                   expected="the export readable to its end") from None
    if size != entry["size"]:  # the export job is still writing it: another try may find it whole
        tmp.unlink(missing_ok=True)
        raise TransientSourceError(f"{shown}/{entry['name']}", f"the file changed while it was copied "
                                   f"(listed {entry['size']:,} bytes, read {size:,})",
                                   expected="an export the job has finished writing")
    digest = h.hexdigest()
    final = dest_root / digest[:16] / entry["name"]
    final.parent.mkdir(exist_ok=True)
    os.replace(tmp, final)
    return final, digest, size


def resolve_drop(spec: DropSpec, source: str, as_of: date, keep: Path, *, max_age_days: int = 2,
                 previous_sha256: str | None = None) -> Drop:
    """The export ``source`` reads as of ``as_of``: chosen, copied into ``keep/<source>``, described.

    ``fresh``: dated at most ``max_age_days`` before ``as_of``. ``same_as_previous``: its
    bytes are those the last run read (``previous_sha256``)."""
    shown = display(spec.location)
    fs, folder = _filesystem(spec.location)
    try:
        try:
            if not fs.isdir(folder):
                raise SourceError(shown, "no such folder", expected="the folder the export job drops files into")
            exports = list_exports(fs, folder, spec.pattern)
        except (OSError, EOFError) as e:
            if isinstance(e, (FileNotFoundError, PermissionError)):
                raise SourceError(shown, f"cannot list the folder ({e.strerror or e})") from None
            raise TransientSourceError(shown, f"cannot list the folder ({e})") from None
        chosen, others = choose(exports, as_of)
        if chosen is None:
            later = sorted(e["name"] for e in exports)
            raise SourceError(shown, f"no export matching {spec.pattern} dated on or before {as_of.isoformat()} "
                              f"({len(exports)} matching file(s), all later: {', '.join(later[:3]) or 'none'})",
                              expected="the export job's dated file in this folder")
        path, digest, size = _copy(fs, chosen, Path(keep) / source, shown)
    finally:
        _close(fs)
    age = (as_of - chosen["date"]).days
    note = ""
    if others:
        note = (f"{len(others) + 1} exports dated {chosen['date'].isoformat()}: took {chosen['name']} (last delivered)"
                f", not {', '.join(o['name'] for o in others)}")
    meta = {"location": shown, "pattern": spec.pattern, "file": chosen["name"],
            "export_date": chosen["date"].isoformat(), "sha256": digest, "size": size, "age_days": age,
            "max_age_days": max_age_days, "fresh": age <= max_age_days,
            "same_as_previous": previous_sha256 is not None and digest == previous_sha256,
            "duplicates": [o["name"] for o in others], "note": note, "kept": str(path)}
    return Drop(path=path, meta=meta)
