"""A local stand-in for WeCom's server API on 127.0.0.1: gettoken (with expiry), contact ways, message/send.

It follows WeCom's documented answers: ``{"errcode": 0, "errmsg": "ok", …}``; 40014 for an unknown token,
42001 for an expired one, 40001 for a wrong secret, -1 ("system busy") while ``busy`` is set.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CORP_ID = "ww0123456789abcdef"
SECRET = "app-secret-0123456789"


class FakeWecom:
    def __init__(self, *, expires_in: int = 7200, members: tuple[str, ...] = ("zhangsan", "lisi")) -> None:
        self.expires_in = expires_in
        self.members = set(members)
        self.tokens: dict[str, float] = {}  # token → expiry (server clock)
        self.gettoken_calls = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.contact_ways: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.busy = 0  # answer this many calls with errcode -1
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/cgi-bin"

    def __enter__(self) -> FakeWecom:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def expire_all(self) -> None:
        """Every token issued so far expires now (WeCom then answers 42001)."""
        with self.lock:
            self.tokens = {token: 0.0 for token in self.tokens}

    def revoke_all(self) -> None:
        """Every token issued so far becomes unknown (WeCom then answers 40014)."""
        with self.lock:
            self.tokens.clear()

    # ---- the API ------------------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if path == "gettoken":
                self.gettoken_calls += 1
                if query.get("corpid") != CORP_ID or query.get("corpsecret") != SECRET:
                    return {"errcode": 40001, "errmsg": "invalid credential"}
                token = f"tok-{self.gettoken_calls}"
                self.tokens[token] = time.monotonic() + self.expires_in
                return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.expires_in}
            token = query.get("access_token", "")
            if token not in self.tokens:
                return {"errcode": 40014, "errmsg": "invalid access_token"}
            if self.tokens[token] <= time.monotonic():
                return {"errcode": 42001, "errmsg": "access_token expired"}
            self.calls.append((path, body))
            if self.busy:
                self.busy -= 1
                return {"errcode": -1, "errmsg": "system busy"}
            return self._call(path, body)

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == "externalcontact/add_contact_way":
            unknown = [u for u in body.get("user", []) if u not in self.members]
            if unknown or body.get("scene") not in (1, 2) or len(str(body.get("state", ""))) > 30:
                return {"errcode": 40098, "errmsg": "invalid user or state"}
            config_id = f"cfg{len(self.contact_ways) + 1:04d}"
            self.contact_ways[config_id] = body
            return {
                "errcode": 0,
                "errmsg": "ok",
                "config_id": config_id,
                "qr_code": f"https://wwcdn.weixin.qq.com/qr/{config_id}.png",
            }
        if path == "externalcontact/del_contact_way":
            if self.contact_ways.pop(str(body.get("config_id")), None) is None:
                return {"errcode": 41044, "errmsg": "invalid config_id"}
            return {"errcode": 0, "errmsg": "ok"}
        if path == "message/send":
            msgtype = body.get("msgtype")
            if msgtype not in ("text", "markdown", "textcard") or not isinstance(body.get(msgtype), dict):
                return {"errcode": 40008, "errmsg": "invalid message type"}
            users = str(body.get("touser", "")).split("|")
            invalid = [u for u in users if u not in self.members]
            self.messages.append(body)
            return {
                "errcode": 0,
                "errmsg": "ok",
                "invaliduser": "|".join(invalid),
                "msgid": f"m{len(self.messages)}",
            }
        return {"errcode": 404, "errmsg": f"unknown api {path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                path = parts.path.removeprefix("/cgi-bin/")
                data = json.dumps(fake.answer(path, query, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self._reply("POST")

        return Handler
