"""Process-wide defaults for running Prefect locally and offline. Import before prefect.

With no ``PREFECT_API_URL`` a flow starts a temporary local server (SQLite under
``PREFECT_HOME``); these settings keep it from reaching the network and give it time
to start on a small machine. Anything already set in the environment wins.
"""
from __future__ import annotations

import errno
import functools
import os
import sys

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_UI_ENABLED": "false",
}


JSON_LOGS = "ANJU_LOG_FORMAT"  # "json": one JSON object per log line (Prefect's JsonFormatter)


def configure() -> None:
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    if os.environ.get(JSON_LOGS, "").lower() == "json":
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FORMATTER", "json")


configure()


def release_unused_memory() -> None:
    """Hand the memory freed frames leave behind back to the system: Arrow's allocator
    (mimalloc) keeps it for the thread that freed it, and the C library's allocator keeps
    NumPy's freed arrays (below its mmap threshold, up to 32 MB each) in its heap. At a
    province's scale the raw exports and each stage's intermediates leave gigabytes of
    resident memory no later stage asks for (bench/e2e.py: the C library's part, 50-170 MB
    a call at 1M households, in about 10 ms)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    _trim_c_heap()


def _trim_c_heap() -> None:
    """glibc's ``malloc_trim(0)``: its free pages back to the system. Nothing elsewhere
    (another C library, another system): there the call is not there to make."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """The C library's ``malloc_trim``, looked up once among the symbols the interpreter
    already has (glibc's; none on musl, macOS or Windows)."""
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


# errno values of a pause, not of a fault: the same call may succeed in a moment.
TRANSIENT_ERRNOS = frozenset(getattr(errno, name) for name in (
    "EAGAIN", "EBUSY", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH",
    "ENETDOWN", "ENETRESET", "EPIPE", "ESTALE", "EINTR") if hasattr(errno, name))


def is_transient(exc: BaseException | None) -> bool:
    """True only for errors known to pass: a refused or reset connection, a timeout, a busy
    device, a database that could not be reached. A bad file, a refused write, a failed gate
    and Anju's own bugs are not: retrying them only delays the message."""
    if exc is None:
        return False
    if getattr(exc, "transient", False):  # TransientSourceError, StoreUnavailable
        return True
    from connectors.errors import SourceError

    if isinstance(exc, SourceError):  # a bad input, already explained: never retried
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, OSError):
        return exc.errno in TRANSIENT_ERRNOS
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.DBAPIError):
        # No statement: the connection itself failed. An invalidated connection: the server
        # went away mid-way. SQLite's busy database is another process's write, soon over.
        return (isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)) and exc.statement is None) \
            or exc.connection_invalidated or "database is locked" in str(exc.orig)
    if isinstance(exc, sa.exc.DisconnectionError):
        return True
    return False


def retry_if_transient(task, task_run, state) -> bool:
    """Prefect retry condition of every task that does I/O: only transient errors retry."""
    return is_transient(state.result(raise_on_failure=False))


def known_errors() -> tuple[type[BaseException], ...]:
    """Errors about the input or the machine (a bad file, an unreachable store, an output
    folder that cannot be written, a held lock, a failed gate): the user can act on their
    one-line message, a traceback would add nothing."""
    from connectors.errors import ClusterError, SourceError
    from connectors.publish import OutputError
    from connectors.store import RunLocked, StoreError
    from schemas.frames import SourceSchemaError
    from schemas.published import PublishGateError

    return SourceError, SourceSchemaError, RunLocked, PublishGateError, StoreError, OutputError, ClusterError


class QuietKnownErrors:
    """A logging filter: for errors that are about the input (a bad file, a held lock, a
    failed publishing gate) the console shows the one-line message, not a traceback.
    Everything else keeps its traceback."""

    def filter(self, record) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, known_errors()):
            record.exc_info = None
            record.exc_text = None
        return True


class NoTraceback:
    """A console formatter wrapper: the one-shot commands print a traceback nowhere but in
    their log file (``anju: internal error: ... (traceback in FILE)``). The record is left
    as it was, so Prefect's API handler still sends the traceback to the run's logs."""

    def __init__(self, inner):
        self.inner = inner

    def format(self, record) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved

    def __getattr__(self, name):
        return getattr(self.inner, name)


def console_without_tracebacks() -> None:
    import logging

    for name in [""] + [n for n in logging.root.manager.loggerDict if n == "prefect" or n.startswith("prefect.")]:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler) \
                    and not isinstance(handler.formatter, NoTraceback):
                handler.setFormatter(NoTraceback(handler.formatter or logging.Formatter()))


def quiet_known_errors() -> None:
    import logging

    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logging.getLogger(name).addFilter(QuietKnownErrors())


class RedactIds:
    """A logging filter: any resident ID in a message or traceback is masked before a handler
    (console, JSON, the Prefect API) sees it. Names cannot be recognised by pattern: Anju's
    own log lines carry counts and file names only, and tests hold them to that."""

    def mask(self, text: str) -> str:
        from reconcile.masking import mask_full_ids

        return mask_full_ids(text)

    def filter(self, record) -> bool:
        import logging

        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if self.mask(text) != text:
                record.exc_text, record.exc_info = self.mask(text), None
        return True


def protect_logs() -> None:
    """Mask IDs on every handler Prefect logs through (call after Prefect is imported)."""
    import logging

    redact = RedactIds()
    names = [""] + [n for n in logging.root.manager.loggerDict if n == "prefect" or n.startswith("prefect.")]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactIds) for f in handler.filters):
                handler.addFilter(redact)


# --- no process outlives the run --------------------------------------------------------
# ``kill -9`` of a run gives it no chance to stop its children: Prefect's temporary API
# server (``SubprocessASGIServer``, ``python -m uvicorn``) and the report worker (a
# ``spawn`` process) would run on, orphaned. Two guards, both process-level (Linux
# PR_SET_PDEATHSIG follows the creating *thread*, and Prefect creates the server from
# whichever thread first needs a client, so it is not used):
#
# * the temporary server is started by :func:`start_local_server` in the main thread,
#   before the flow, through the same public call Prefect's ``get_client`` makes
#   (``SubprocessASGIServer().start()``: the flow then finds it running and reuses it),
#   and its pid is handed to a watchdog: a small process holding the read end of a pipe
#   whose write end only this process holds. However this process ends, the kernel
#   closes the pipe; the watchdog reads EOF and stops the server (SIGTERM, then SIGKILL),
#   addressing it by a pidfd so a recycled pid is never hit.
# * a ``multiprocessing`` spawn child of ``anju`` (the report worker) re-imports the CLI,
#   its parent's main module, which calls :func:`die_with_parent`: a daemon thread waits
#   on a pidfd of the parent and ends the child when the parent has gone.

def _watchdog_main() -> None:
    """The watchdog process: collect pids from the pipe until EOF, then stop them."""
    import select
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the run; the watchdog follows the run
    fd, pidfds, buf = int(sys.argv[1]), [], b""
    while chunk := os.read(fd, 64):
        *lines, buf = (buf + chunk).split(b"\n")
        for line in lines:
            try:
                pidfds.append(os.pidfd_open(int(line)))
            except (OSError, ValueError):  # gone already, or no pidfds on this kernel
                pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pidfds:
            try:
                signal.pidfd_send_signal(p, sig)
            except ProcessLookupError:
                pass
        pidfds = [p for p in pidfds if not select.select([p], [], [], 10)[0]]


_watchdog_pipe: int | None = None
_watchdog = None  # its Popen, kept so it is not collected while it runs


def tether(pid: int) -> None:
    """Stop process ``pid`` when this process ends, however it ends (Linux)."""
    global _watchdog_pipe, _watchdog
    if not hasattr(os, "pidfd_open"):
        return
    if _watchdog_pipe is None:
        import subprocess

        r, w = os.pipe()  # non-inheritable: no other child keeps the write end open
        _watchdog = subprocess.Popen([sys.executable, "-c", "from flows.runtime import _watchdog_main; _watchdog_main()", str(r)],
                         pass_fds=[r], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(r)
        _watchdog_pipe = w
    try:
        os.write(_watchdog_pipe, f"{pid}\n".encode())
    except OSError:  # the watchdog is gone: the run goes on, untethered, as it would without it
        pass


def start_local_server() -> None:
    """Start Prefect's temporary server now, tethered to this process (see above); nothing
    when a Prefect API is configured."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    if server.server_process is not None:
        tether(server.server_process.pid)


def die_with_parent() -> None:
    """In a child process: exit as soon as the parent process has ended."""
    if not hasattr(os, "pidfd_open"):
        return
    import threading

    parent = os.getppid()
    try:
        pidfd = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)
    except OSError:  # no pidfds on this kernel: live on as before
        return
    if os.getppid() != parent:  # the parent died before the pidfd was open
        os._exit(1)

    def watch() -> None:
        import select

        select.select([pidfd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="anju-die-with-parent", daemon=True).start()
