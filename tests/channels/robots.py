"""Local protocol servers for the three group robots, as their public docs define them (real HTTP on
127.0.0.1): WeCom 群机器人 (send + upload_media, errcodes, 20/min), Feishu 自定义机器人 (timestamp+secret
signature, codes, 100/min and 5/s) and DingTalk 自定义机器人 (timestamp/sign query, errcodes, 20/min).

The signature checks are written here from the docs' recipes, independently of the adapters' code, so a
wrong recipe on either side fails the tests.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RobotState:
    wecom_keys: set[str] = field(default_factory=set)
    feishu: dict[str, str | None] = field(default_factory=dict)  # token → secret
    dingtalk: dict[str, str | None] = field(default_factory=dict)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uploads: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    windows: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def over(self, robot: str, count: int, seconds: float, now: float) -> bool:
        """Whether one more request to ``robot`` exceeds ``count`` per ``seconds`` (recorded if not)."""
        sent = self.windows.setdefault(robot, deque())
        return sum(1 for t in sent if t > now - seconds) >= count

    def take(self, robot: str, now: float) -> None:
        self.windows.setdefault(robot, deque()).append(now)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        state = self.server.state
        with state.lock:
            if parts.path == "/cgi-bin/webhook/send":
                reply = wecom_send(state, query, raw)
            elif parts.path == "/cgi-bin/webhook/upload_media":
                reply = wecom_upload(state, query, raw, self.headers.get("Content-Type", ""))
            elif parts.path.startswith("/open-apis/bot/v2/hook/"):
                reply = feishu_hook(state, parts.path.rsplit("/", 1)[1], raw)
            elif parts.path == "/robot/send":
                reply = dingtalk_send(state, query, raw)
            else:
                self._json({"error": "not found"}, 404)
                return
        self._json(reply)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: RobotState


def _body(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# ---- WeCom --------------------------------------------------------------------------------------------


def wecom_send(state: RobotState, query: dict[str, str], raw: bytes) -> dict[str, Any]:
    key = query.get("key", "")
    if key not in state.wecom_keys:
        return {
            "errcode": 93000,
            "errmsg": "invalid webhook url, hint: [x], more info at https://open.work.weixin.qq.com/devtool/query?e=93000",
        }
    now = time.time()
    if state.over(f"wecom:{key}", 20, 60, now):
        return {"errcode": 45009, "errmsg": "api freq out of limit"}
    body = _body(raw)
    if body is None:
        return {"errcode": 40058, "errmsg": "invalid json"}
    kind = body.get("msgtype")
    inner = body.get(kind) if isinstance(kind, str) else None
    if not isinstance(inner, dict):
        return {"errcode": 40008, "errmsg": "invalid message type"}
    if kind in ("text", "markdown"):
        content = inner.get("content", "")
        if not content:
            return {"errcode": 44004, "errmsg": "empty content"}
        if len(content.encode()) > (2048 if kind == "text" else 4096):
            return {"errcode": 40058, "errmsg": "content exceed max length"}
    elif kind == "news":
        articles = inner.get("articles")
        if (
            not isinstance(articles, list)
            or not 1 <= len(articles) <= 8
            or not all(a.get("title") and a.get("url") for a in articles)
        ):
            return {"errcode": 40058, "errmsg": "invalid articles"}
    elif kind == "image":
        try:
            data = base64.b64decode(inner["base64"], validate=True)
        except (KeyError, ValueError):
            return {"errcode": 40058, "errmsg": "invalid base64"}
        if hashlib.md5(data).hexdigest() != inner.get("md5"):
            return {"errcode": 40058, "errmsg": "md5 not match"}
        if len(data) > 2 * 1024 * 1024:
            return {"errcode": 40009, "errmsg": "invalid image size"}
    elif kind == "file":
        if inner.get("media_id") not in state.uploads:
            return {"errcode": 40007, "errmsg": "invalid media_id"}
    else:
        return {"errcode": 40008, "errmsg": "invalid message type"}
    state.take(f"wecom:{key}", now)
    state.received.append(("wecom", body))
    return {"errcode": 0, "errmsg": "ok"}


def wecom_upload(state: RobotState, query: dict[str, str], raw: bytes, content_type: str) -> dict[str, Any]:
    if query.get("key") not in state.wecom_keys:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    if query.get("type") != "file":
        return {"errcode": 40004, "errmsg": "invalid media type"}
    mime = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw, policy=email.policy.default
    )
    for part in mime.iter_parts():  # type: ignore[attr-defined]
        if part.get_param("name", header="content-disposition") == "media":
            data = part.get_payload(decode=True) or b""
            if not 5 <= len(data) <= 20 * 1024 * 1024:
                return {"errcode": 40006, "errmsg": "invalid file size"}
            media_id = uuid.uuid4().hex
            state.uploads[media_id] = (part.get_filename() or "", data)
            return {
                "errcode": 0,
                "errmsg": "ok",
                "type": "file",
                "media_id": media_id,
                "created_at": str(int(time.time())),
            }
    return {"errcode": 41001, "errmsg": "media data missing"}


# ---- Feishu -------------------------------------------------------------------------------------------


def feishu_hook(state: RobotState, token: str, raw: bytes) -> dict[str, Any]:
    if token not in state.feishu:
        return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}}
    if len(raw) > 20 * 1024:
        return {"code": 9499, "msg": "request body size exceeded", "data": {}}
    body = _body(raw)
    if body is None:
        return {"code": 9499, "msg": "Bad Request", "data": {}}
    secret = state.feishu[token]
    now = time.time()
    if secret is not None:
        try:
            stamp = int(body.get("timestamp", ""))
        except ValueError:
            stamp = 0
        string_to_sign = f"{stamp}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(string_to_sign, digestmod=hashlib.sha256).digest()).decode()
        if abs(now - stamp) > 3600 or not hmac.compare_digest(expected, str(body.get("sign", ""))):
            return {
                "code": 19021,
                "msg": "sign match fail or timestamp is not within one hour from current time",
                "data": {},
            }
    if state.over(f"feishu:{token}", 5, 1, now) or state.over(f"feishu:{token}", 100, 60, now):
        return {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]", "data": {}}
    kind = body.get("msg_type")
    content = body.get("content") or {}
    ok = (
        (kind == "text" and isinstance(content.get("text"), str) and content["text"])
        or (kind == "post" and isinstance(content.get("post"), dict))
        or (kind == "interactive" and isinstance(body.get("card"), dict))
        or (kind == "image" and content.get("image_key"))
    )
    if not ok:
        return {"code": 9499, "msg": "Bad Request", "data": {}}
    state.take(f"feishu:{token}", now)
    state.received.append(("feishu", body))
    return {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}


# ---- DingTalk -----------------------------------------------------------------------------------------


def dingtalk_send(state: RobotState, query: dict[str, str], raw: bytes) -> dict[str, Any]:
    token = query.get("access_token", "")
    if token not in state.dingtalk:
        return {"errcode": 300001, "errmsg": "token is not exist"}
    secret = state.dingtalk[token]
    now = time.time()
    if secret is not None:
        stamp = query.get("timestamp", "")
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        fresh = stamp.isdigit() and abs(now * 1000 - int(stamp)) <= 3600 * 1000
        # parse_qs already URL-decoded the sign: compare with the plain base64.
        if not fresh or not hmac.compare_digest(base64.b64encode(digest).decode(), query.get("sign", "")):
            return {
                "errcode": 310000,
                "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
            }
    if state.over(f"dingtalk:{token}", 20, 60, now):
        return {"errcode": 410100, "errmsg": "send too fast, exceed 20 times per minute"}
    body = _body(raw)
    kind = body.get("msgtype") if body else None
    inner = body.get(kind) if body and isinstance(kind, str) else None
    ok = isinstance(inner, dict) and (
        (kind == "text" and inner.get("content"))
        or (kind == "markdown" and inner.get("title") and inner.get("text"))
        or (
            kind == "actionCard"
            and inner.get("title")
            and inner.get("text")
            and (inner.get("singleURL") or inner.get("btns"))
        )
    )
    if not ok or body is None:
        return {"errcode": 40035, "errmsg": "缺少参数 json"}
    state.take(f"dingtalk:{token}", now)
    state.received.append(("dingtalk", body))
    return {"errcode": 0, "errmsg": "ok"}


class RobotServer:
    def __init__(self) -> None:
        self.state = RobotState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def wecom_url(self, key: str) -> str:
        self.state.wecom_keys.add(key)
        return f"{self.base}/cgi-bin/webhook/send?key={key}"

    def feishu_url(self, token: str, secret: str | None) -> str:
        self.state.feishu[token] = secret
        return f"{self.base}/open-apis/bot/v2/hook/{token}"

    def dingtalk_url(self, token: str, secret: str | None) -> str:
        self.state.dingtalk[token] = secret
        return f"{self.base}/robot/send?access_token={token}"

    def bodies(self, service: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [body for name, body in self.state.received if name == service]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
