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
