"""Process-wide defaults for running Prefect locally and offline. Import before prefect.

With no ``PREFECT_API_URL`` a flow starts a temporary local server (SQLite under
``PREFECT_HOME``); these settings keep it from reaching the network and give it time
to start on a small machine. Anything already set in the environment wins.
"""
from __future__ import annotations

import os

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


def retry_if_connection(task, task_run, state) -> bool:
    """Prefect retry condition: a database that is restarting or unreachable may come back;
    a refused write or a failed gate will not."""
    import sqlalchemy as sa

    exc = state.result(raise_on_failure=False)
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, ConnectionError, TimeoutError))


class QuietKnownErrors:
    """A logging filter: for errors that are about the input (a bad file, a held lock, a
    failed publishing gate) the console shows the one-line message, not a traceback.
    Everything else keeps its traceback."""

    def filter(self, record) -> bool:
        from connectors.errors import SourceError
        from connectors.store import RunLocked
        from schemas.frames import SourceSchemaError
        from schemas.published import PublishGateError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (SourceError, SourceSchemaError, RunLocked, PublishGateError)):
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_known_errors() -> None:
    import logging

    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logging.getLogger(name).addFilter(QuietKnownErrors())


class RedactIds:
    """A logging filter: any resident ID in a message or traceback is masked before a handler
    (console, JSON, the Prefect API) sees it. Names cannot be recognised by pattern: Anju's
    own log lines carry counts and file names only, and tests hold them to that."""

    def mask(self, text: str) -> str:
        from schemas.gate import mask_full_ids

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
