"""The terminal while a command runs (the ministry's monthly progress report is another
thing: ``flows/progress_flow.py``): on a TTY, a spinner with the current stage and one line
per stage done; in a pipe or under a scheduler nothing here runs and Prefect's plain log
lines stay."""
from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import contextmanager


class _StageLines(logging.Handler):
    def __init__(self, console, status):
        super().__init__(logging.INFO)
        self.console, self.status, self.t0 = console, status, time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if record.levelno >= logging.WARNING or ":" not in msg or "Finished in state" in msg:
            return
        from rich.markup import escape

        self.console.print(f"  [green]✓[/] {escape(msg)}  [dim]{time.perf_counter() - self.t0:5.1f} s[/]",
                           highlight=False)
        self.status.update(f"after {escape(msg.split(':')[0])} …")


def quiet_console_on_tty() -> bool:
    """Call before Prefect is imported: on a TTY its console shows warnings only."""
    if sys.stderr.isatty():
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        return True
    return False


@contextmanager
def stage_progress(enabled: bool, title: str):
    if not enabled:
        yield
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(f"{title}: starting the local Prefect engine …") as status:
        handler = _StageLines(console, status)
        loggers = [logging.getLogger(n) for n in ("prefect.task_runs", "prefect.flow_runs")]
        for lg in loggers:
            lg.addHandler(handler)
        try:
            yield
        finally:
            for lg in loggers:
                lg.removeHandler(handler)
