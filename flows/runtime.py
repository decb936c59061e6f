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


def configure() -> None:
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)


configure()


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
