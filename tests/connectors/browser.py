"""Headless Chromium driven through the DevTools protocol: console errors, the page's own
requests, a screenshot. Chromium comes from Debian's package (installed by .ci/run)."""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-default-apps", "--disable-extensions", "--no-default-browser-check"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> None:
    """Skip without Chromium, except under CI, where its absence is a failure."""
    import pytest

    from tests.conftest import IN_CI

    if chromium() is None:
        if IN_CI:
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("no chromium on this machine (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ROWS_SHOWN = "document.querySelectorAll('#t tbody tr').length"
# Runs before any script of the page (DevTools injects it; the page's CSP does not apply to
# it): records every alert/confirm/prompt and every Content-Security-Policy violation, so a
# test can ask the page whether injected code ran or whether the policy blocked our own.
WATCH = """
window.__anju_alerts = []; window.__anju_csp = [];
for (const f of ['alert', 'confirm', 'prompt']) window[f] = (m) => { window.__anju_alerts.push(f + ':' + m); };
document.addEventListener('securitypolicyviolation',
  (e) => window.__anju_csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));
"""
ALERTS = "window.__anju_alerts"
CSP_VIOLATIONS = "window.__anju_csp"


@contextmanager
def devtools_page(*flags: str, tries: int = 150):
    """A headless Chromium with a fresh profile; yields the DevTools WebSocket URL of its
    blank page, and kills it (profile removed) afterwards."""
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="anju-chromium-")
    proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
                             "--remote-debugging-address=127.0.0.1", *flags, "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(tries):
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=1))
                break
            except OSError:
                time.sleep(0.2)
        yield next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    finally:
        proc.kill()
        proc.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


def load(page: Path, screenshot: Path, settle: float = 3.0, evaluate: dict[str, str] | None = None) -> dict:
    """Open ``page``; return console errors, exceptions, every URL the page requested, the
    requests that failed, and the value of each JavaScript expression in ``evaluate``."""
    from websockets.sync.client import connect

    with devtools_page("--window-size=1280,2000") as ws_url:
        seen = {"errors": [], "requests": [], "failed": []}
        with connect(ws_url, max_size=None, open_timeout=20) as ws:
            counter = iter(range(1, 10_000))

            def call(method, **params):
                ident = next(counter)
                ws.send(json.dumps({"id": ident, "method": method, "params": params}))
                while True:
                    msg = json.loads(ws.recv(timeout=60))
                    if msg.get("id") == ident:
                        return msg.get("result", {})
                    _event(msg, seen)

            for domain in ("Network", "Runtime", "Log", "Page"):
                call(f"{domain}.enable")
            call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
            call("Page.navigate", url=page.resolve().as_uri())
            end = time.monotonic() + settle
            while time.monotonic() < end:
                try:
                    _event(json.loads(ws.recv(timeout=0.5)), seen)
                except TimeoutError:
                    pass
            shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            for name, expression in (evaluate or {"rows_shown": ROWS_SHOWN}).items():
                seen[name] = call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")
        return seen


def _event(msg: dict, seen: dict) -> None:
    method, params = msg.get("method"), msg.get("params", {})
    if method == "Network.requestWillBeSent":
        seen["requests"].append(params["request"]["url"])
        seen.setdefault("by_id", {})[params["requestId"]] = params["request"]["url"]
    elif method == "Network.loadingFailed":
        url = seen.get("by_id", {}).get(params.get("requestId"), "?")
        seen["failed"].append(f"{url}: {params.get('errorText')}")
    elif method == "Runtime.exceptionThrown":
        seen["errors"].append(params["exceptionDetails"].get("text", "exception"))
    elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
        seen["errors"].append(str(params.get("args")))
    elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
        seen["errors"].append(params["entry"].get("text"))
