"""A headless Chromium session at a given window size, for asking report.html about its
layout: evaluate JavaScript (awaiting promises), wait for a condition, take screenshots.
(``tests/connectors/browser.py`` loads a page once at a fixed size; this one stays open.)"""
from __future__ import annotations

import base64
import json
import time
from contextlib import contextmanager
from pathlib import Path

from tests.connectors.browser import WATCH, _event, devtools_page


class Session:
    def __init__(self, ws, seen: dict):
        self.ws, self.seen, self._next = ws, seen, 0

    def call(self, method: str, timeout: float = 300, **params) -> dict:
        self._next += 1
        ident = self._next
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=timeout))
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            _event(msg, self.seen)

    def js(self, expression: str, timeout: float = 300):
        """The value of ``expression`` (a promise is awaited); a thrown error is raised."""
        r = self.call("Runtime.evaluate", timeout=timeout, expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression: str, limit: float = 300) -> float:
        """Poll until ``expression`` is truthy; the seconds it took (a measurement, never asserted)."""
        start = time.monotonic()
        while not self.js(expression):
            if time.monotonic() - start > limit:
                raise TimeoutError(expression)
            time.sleep(0.05)
        return time.monotonic() - start

    def screenshot(self, path: Path) -> Path:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def frames(self, n: int = 3) -> None:
        """Let the page lay out and paint after a change (n animation frames)."""
        self.js("new Promise(r => { let k = %d; const f = () => (--k ? requestAnimationFrame(f) : r(1));"
                " requestAnimationFrame(f); })" % n)


@contextmanager
def session(page: Path, width: int, height: int, downloads: Path | None = None):
    """``page`` open in a window of ``width`` x ``height`` CSS pixels; yields (Session, navigated-at)."""
    from websockets.sync.client import connect

    with devtools_page(f"--window-size={width},{height}", "--hide-scrollbars=false") as ws_url:
        with connect(ws_url, max_size=None, open_timeout=20) as ws:
            s = Session(ws, {"errors": [], "requests": [], "failed": []})
            for domain in ("Network", "Runtime", "Log", "Page"):
                s.call(f"{domain}.enable")
            s.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                   mobile=False)
            if downloads is not None:
                s.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
            s.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
            start = time.monotonic()
            s.call("Page.navigate", url=page.resolve().as_uri())
            yield s, start
