"""A real local HTTP server speaking the Telegram Bot API shapes, for alert tests (no mocking).

``TelegramTestServer`` listens on 127.0.0.1:<free port> in a thread and answers
``POST /bot<token>/sendMessage`` (JSON body) and ``POST /bot<token>/sendDocument`` (multipart, the
file in the ``document`` field). Each call consumes the next programmed behaviour (default ``ok``):

* ``ok()``                      → 200 {"ok": true, "result": {...message_id...}}
* ``fail(description, code)``   → code (400) {"ok": false, "error_code", "description"}
* ``rate_limited(retry_after)`` → 429 {"ok": false, "parameters": {"retry_after": N}}
* ``server_error()``            → 500 {"ok": false, "description": "Internal Server Error"}
* ``hang(seconds)``             → holds the connection (past the client timeout), then answers ok
* ``never_answer()``            → accepts and reads the request, then never answers (until ``stop``)
``always(behaviour)`` sets what calls get once the queue is empty (default ``ok``): ``always(never_answer())``
is a Telegram that hangs for good, ``always(ok())`` the one that came back.
A wrong token always gets 401 {"ok": false, "description": "Unauthorized"}.
Every request is recorded in ``requests`` (path, method, JSON body or multipart fields + file bytes).
"""
from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TOKEN = "123456789:AAH-test-token-SECRET-do-not-print_xyz"


def ok() -> dict[str, Any]:
    return {"kind": "ok"}


def fail(description: str = "Bad Request: chat not found", code: int = 400) -> dict[str, Any]:
    return {"kind": "fail", "description": description, "code": code}


def rate_limited(retry_after: float = 1) -> dict[str, Any]:
    return {"kind": "429", "retry_after": retry_after}


def server_error() -> dict[str, Any]:
    return {"kind": "500"}


def hang(seconds: float = 5.0) -> dict[str, Any]:
    return {"kind": "hang", "seconds": seconds}


def never_answer() -> dict[str, Any]:
    return {"kind": "never"}


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(fields, files) of a multipart/form-data body; files keep name, filename and raw bytes."""
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name] = {"filename": filename, "content": payload}
        else:
            fields[name] = payload.decode("utf-8")
    return fields, files


class TelegramTestServer:
    def __init__(self, token: str = DEFAULT_TOKEN):
        self.token = token
        self.requests: list[dict[str, Any]] = []
        self._script: list[dict[str, Any]] = []
        self._default: dict[str, Any] = ok()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._next_message_id = 1
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------------
    def queue(self, *behaviours: dict[str, Any]) -> "TelegramTestServer":
        """Answers for the next calls, in order; when the queue is empty calls get ``ok``."""
        with self._lock:
            self._script.extend(behaviours)
        return self

    def always(self, behaviour: dict[str, Any]) -> "TelegramTestServer":
        """What every call gets once the queue is empty (instead of ``ok``)."""
        with self._lock:
            self._default = dict(behaviour)
        return self

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "TelegramTestServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="telegram-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let hanging handlers finish
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "TelegramTestServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if method is None or r["method"] == method]

    # --- serving -------------------------------------------------------------------------------
    def _next(self) -> dict[str, Any]:
        with self._lock:
            return self._script.pop(0) if self._script else dict(self._default)

    def _record(self, rec: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(rec)

    def _message_id(self) -> int:
        with self._lock:
            self._next_message_id += 1
            return self._next_message_id

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:  # keep test output (and the token) quiet
                pass

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): that is the point of 'hang'

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                parts = self.path.strip("/").split("/")
                token = parts[0][3:] if parts and parts[0].startswith("bot") else None
                method = parts[1] if len(parts) > 1 else ""
                ctype = self.headers.get("Content-Type", "")
                rec: dict[str, Any] = {"path": self.path, "method": method, "token_ok": token == server.token,
                                       "json": None, "fields": None, "files": None}
                if ctype.startswith("application/json"):
                    rec["json"] = json.loads(raw or b"null")
                elif ctype.startswith("multipart/form-data"):
                    rec["fields"], rec["files"] = parse_multipart(ctype, raw)
                if token != server.token:
                    rec["behaviour"] = "unauthorized"
                    server._record(rec)
                    return self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                if method not in ("sendMessage", "sendDocument"):
                    rec["behaviour"] = "not-found"
                    server._record(rec)
                    return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                b = server._next()
                rec["behaviour"] = b["kind"]
                server._record(rec)
                if b["kind"] == "fail":
                    return self._reply(b["code"], {"ok": False, "error_code": b["code"], "description": b["description"]})
                if b["kind"] == "429":
                    return self._reply(429, {"ok": False, "error_code": 429,
                                             "description": f"Too Many Requests: retry after {b['retry_after']}",
                                             "parameters": {"retry_after": b["retry_after"]}})
                if b["kind"] == "500":
                    return self._reply(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
                if b["kind"] == "never":
                    server._release.wait()
                    self.close_connection = True
                    return None  # no status line, no body: the client only ever sees its own timeout
                if b["kind"] == "hang":
                    server._release.wait(b["seconds"])
                body = rec["json"] or rec["fields"] or {}
                result = {"message_id": server._message_id(), "chat": {"id": body.get("chat_id")}, "date": 0}
                if method == "sendMessage":
                    result["text"] = body.get("text")
                else:
                    f = (rec["files"] or {}).get("document") or {}
                    result["document"] = {"file_name": f.get("filename"), "file_size": len(f.get("content") or b"")}
                return self._reply(200, {"ok": True, "result": result})

        return Handler
