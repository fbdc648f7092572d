"""A tiny HTTP server that answers from a script: for client tests of retries and dropped answers.

`ScriptedServer([(503, {...}), (200, {...}), "drop"])` answers each request with the next entry
(`"drop"` closes the connection without an answer) and records every request it got.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    def __init__(self, script: list, *, headers: dict[str, str] | None = None):
        self.script = list(script)
        self.requests: list[tuple[str, str]] = []
        self._headers = headers or {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.requests.append((self.command, self.path))
                step = server.script.pop(0) if server.script else (500, {"error": "script over"})
                if step == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status, body = step
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in server._headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args):
                pass

        return Handler
