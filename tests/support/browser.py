"""Headless Chromium over the DevTools protocol, for browser tests without new Python packages.

Why CDP and not ``--dump-dom``: the dashboard renders its charts in JavaScript after the page loads
(Dash callbacks, then Plotly). We need to *wait* for them and read the figure data Plotly actually
holds in the page (``graphDiv.data``), which a one-shot dump cannot do. ``websockets`` (already a
dependency) is all that is needed to speak the protocol.

If Chromium is missing the caller gets ``BrowserMissing`` with the install command — browser tests
FAIL on it (a skipped browser test would hide a broken page).
"""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = "install it with: apt-get install -y chromium chromium-driver  (the Makefile's `browser` target does this)"


class BrowserMissing(RuntimeError):
    pass


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserMissing(f"headless Chromium not found on PATH (looked for {', '.join(CANDIDATES)}); {INSTALL_HINT}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_wsgi(wsgi_app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve a WSGI app (e.g. ``dash_app.server``) on a free loopback port in a thread; yields the base URL."""
    from werkzeug.serving import make_server

    server = make_server(host, 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


class Page:
    """One tab driven over a CDP websocket: navigate, evaluate JavaScript, wait, screenshot."""

    def __init__(self, ws):
        self._ws = ws
        self._id = 0

    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        self._id += 1
        msg_id = self._id
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer to {method} within {timeout:.0f} s")
            msg = json.loads(self._ws.recv(timeout=left))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def navigate(self, url: str) -> None:
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})

    def eval(self, expression: str, timeout: float = 30) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in res:
            raise BrowserError(f"JavaScript error in {expression[:80]!r}: {res['exceptionDetails'].get('text')} "
                               f"{res['exceptionDetails'].get('exception', {}).get('description', '')}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60, what: str | None = None) -> Any:
        """Poll a JS expression until it is truthy (a guard against hangs, not a performance check)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.eval(expression)
            if last:
                return last
            time.sleep(0.2)
        raise BrowserError(f"timed out after {timeout:.0f} s waiting for {what or expression!r} (last value {last!r})")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = self.send("Page.captureScreenshot", params, timeout=60)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def chromium_page(width: int = 1440, height: int = 1000) -> Iterator[Page]:
    """Start headless Chromium with a private profile and yield a ``Page`` for its first tab."""
    from websockets.sync.client import connect

    exe = find_chromium()
    profile = Path(tempfile.mkdtemp(prefix="exo-chromium-"))
    cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
           "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
           "--no-proxy-server",
           f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
           f"--window-size={width},{height}", "about:blank"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None:
                raise BrowserError(f"{exe} exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise BrowserError(f"{exe} did not open its DevTools port within 60 s")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        ws_url = _page_ws_url(port)
        with connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=30) as ws:
            page = Page(ws)
            page.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
            yield page
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(profile, ignore_errors=True)


def _page_ws_url(port: int) -> str:
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
            with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BrowserError(f"no page target on the DevTools port {port}")
        time.sleep(0.1)
