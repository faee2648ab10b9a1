"""A local OpenAI-protocol chat server that replays scripted replies, for the LLM front-end tests.

It speaks real HTTP on 127.0.0.1 (a free port) so the client, the loop and the CLI are exercised
end to end; only the model's answers are scripted. Every request is recorded for assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedChatServer:
    """``with ScriptedChatServer([reply, ...]) as server:`` then use ``server.endpoint``.

    A reply is the assistant's text, or an ``int`` HTTP status to answer with instead (to test
    retries). Requests after the script runs out get HTTP 500 with a clear message.
    """

    def __init__(self, replies: list[str | int]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner._lock:
                    owner.requests.append(body)
                    owner.headers.append(dict(self.headers))
                    reply = owner.replies.pop(0) if owner.replies else 500
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": f"no route {self.path}"})
                elif isinstance(reply, int):
                    self._send(reply, {"error": {"message": f"scripted status {reply}"}})
                else:
                    self._send(
                        200,
                        {
                            "id": f"chatcmpl-{len(owner.requests)}",
                            "object": "chat.completion",
                            "model": body.get("model"),
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": reply},
                                }
                            ],
                            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                        },
                    )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> ScriptedChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
