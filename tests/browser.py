"""A real headless Chromium for page tests, driven over the DevTools protocol with the stdlib only.

    with Browser() as b:
        b.set_cookie("sessionid", key, live_server.url)
        b.goto(live_server.url + "/desk/phone/")
        b.eval("document.querySelector('#phone').value = '030 1234567'")
        b.eval("document.querySelector('#lookup').submit()")
        b.wait_for("document.body.innerText.includes('Anna')")
        b.screenshot(tmp_path / "phone.png")

Without Chromium installed (`apt-get install chromium`) the test is skipped with that reason.
"""

import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class _WebSocket:
    """Just enough of RFC 6455 for the DevTools socket: masked text frames out, any frames in."""

    def __init__(self, url: str, timeout: float) -> None:
        assert url.startswith("ws://"), url
        host_port, _, path = url[len("ws://") :].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BrowserError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, self._buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise BrowserError(f"DevTools refused the websocket: {head[:200]!r}")

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BrowserError("DevTools connection closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])  # FIN + text frame
        length = len(payload)
        if length < 126:
            header.append(0x80 | length)
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def recv(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", self._read(8))
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise BrowserError("DevTools closed the websocket")
            if opcode in (0x9, 0xA):  # ping/pong: not used by DevTools, ignored
                continue
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Browser:
    """One headless Chromium with one page. Skips the calling test when Chromium is missing."""

    def __init__(self, *, width: int = 1280, height: int = 900, timeout: float = 15.0) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        self.process: subprocess.Popen | None = None
        self.ws: _WebSocket | None = None

    def __enter__(self) -> "Browser":
        binary = chromium_path()
        if binary is None:
            pytest.skip("Chromium is not installed (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="omnis-chromium-")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                f"--window-size={self.width},{self.height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self._connect()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _connect(self) -> None:
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise BrowserError("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        page = None
        while page is None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                page = next((t for t in json.load(r) if t.get("type") == "page"), None)
            if page is None:
                if time.monotonic() > deadline:
                    raise BrowserError("Chromium opened no page")
                time.sleep(0.05)
        self.ws = _WebSocket(page["webSocketDebuggerUrl"], self.timeout)
        self.send("Page.enable")
        self.send("Network.enable")
        self.send("Runtime.enable")

    def __exit__(self, *exc) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(getattr(self, "profile", ""), ignore_errors=True)

    # DevTools protocol

    def send(self, method: str, **params: Any) -> dict:
        """Call a DevTools method and return its result; events that arrive meanwhile are kept."""
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def _wait_event(self, name: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == name:
                    return self._events.pop(i)
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {name}")
            self.ws.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                message = json.loads(self.ws.recv())
            except TimeoutError:
                continue
            finally:
                self.ws.sock.settimeout(self.timeout)
            if "method" in message:
                self._events.append(message)

    # What a test uses

    def set_cookie(self, name: str, value: str, url: str) -> None:
        self.send("Network.setCookie", name=name, value=value, url=url)

    def goto(self, url: str) -> None:
        """Open a URL and wait until the page has loaded."""
        self._events = [e for e in self._events if e["method"] != "Page.loadEventFired"]
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {result['errorText']}")
        self._wait_event("Page.loadEventFired", self.timeout)

    def eval(self, js: str) -> Any:
        """Evaluate a JavaScript expression in the page and return its value (JSON-able)."""
        result = self.send("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return result.get("result", {}).get("value")

    def wait_for(self, js_condition: str, timeout: float | None = None) -> Any:
        """Poll a JavaScript condition until it is truthy (e.g. after a form submit navigates)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        last_error = None
        # A DOM node comes back as {} (falsy in Python): count any node as found.
        check = f"(() => {{ const v = ({js_condition}); return v instanceof Node ? true : v; }})()"
        while time.monotonic() < deadline:
            try:
                value = self.eval(check)
                if value:
                    return value
            except BrowserError as exc:  # the page may be between two documents
                last_error = exc
            time.sleep(0.1)
        raise BrowserError(
            f"timed out waiting for {js_condition!r}; page: {self.url()} {last_error or ''}"
        )

    def url(self) -> str:
        try:
            return self.eval("location.href")
        except BrowserError:
            return "?"

    def text(self) -> str:
        return self.eval("document.body ? document.body.innerText : ''") or ""

    def screenshot(self, path: str | os.PathLike) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path
