"""A small client for WeCom's server API (``https://qyapi.weixin.qq.com/cgi-bin``): what sopflow calls.

- ``gettoken``: the access token is cached (per API base, corp and secret, shared by every client of the
  process) until shortly before its ``expires_in``, and fetched again when a call answers errcode 40014
  (invalid token) or 42001 (expired), after which that call is repeated once;
- ``externalcontact/add_contact_way`` and ``del_contact_way``: channel QR codes (「联系我」);
- ``message/send``: app messages (应用消息) to staff.

Every refusal is a :class:`WecomApiError` with WeCom's ``errcode`` and whether a retry may help
(network errors, 5xx, the "system busy" and frequency-limit codes). Messages never contain the secret or
the access token.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.wecom.config import DEFAULT_API_BASE, WecomConfig

TOKEN_ERRCODES = frozenset({40014, 42001})
# -1 system busy; 45009 API frequency over its limit; 45011 calls too frequent; 45033 too many concurrent
# calls; 45047 (message queue over its limit). WeCom asks callers to back off and try again on these.
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45011, 45033, 45047})
RATE_LIMIT_ERRCODES = frozenset({45009, 45011, 45033, 45047})
RATE_LIMIT_RETRY_S = 60.0


class WecomApiError(SopflowError):
    """WeCom refused a call or could not be reached."""

    code = "wecom_api_error"
    exit_code = 1
    http_status = 502

    def __init__(
        self, message: str, *, errcode: int | None, retryable: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class ContactWay:
    config_id: str
    qr_code: str


@dataclass
class _Token:
    value: str
    refresh_at: float


class TokenCache:
    """Access tokens by (API base, corp id, secret digest), shared by the clients of one process."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str, str], now: float) -> str | None:
        token = self._tokens.get(key)
        return token.value if token is not None and now < token.refresh_at else None

    def put(self, key: tuple[str, str, str], value: str, refresh_at: float) -> None:
        self._tokens[key] = _Token(value, refresh_at)

    def drop(self, key: tuple[str, str, str], value: str) -> None:
        token = self._tokens.get(key)
        if token is not None and token.value == value:
            del self._tokens[key]


TOKENS = TokenCache()


def refresh_margin(expires_in: float) -> float:
    """How long before ``expires_in`` the token is fetched again: a tenth of its life, at most 5 minutes."""
    return min(300.0, expires_in / 10)


class WecomClient:
    def __init__(
        self,
        *,
        corp_id: str,
        secret: str,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        tokens: TokenCache = TOKENS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.corp_id = corp_id
        self._secret = secret
        self.api_base = api_base.rstrip("/")
        self._clock = clock
        self._tokens = tokens
        self._key = (self.api_base, corp_id, hashlib.sha256(secret.encode("utf-8")).hexdigest())
        self._http = httpx.Client(timeout=timeout, transport=transport, trust_env=False)

    @classmethod
    def from_config(cls, config: WecomConfig, **options: Any) -> WecomClient:
        return cls(corp_id=config.corp_id, secret=config.secret, api_base=config.api_base, **options)

    def __enter__(self) -> WecomClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---- transport ----------------------------------------------------------------------------------------

    def _scrub(self, text: str, *secrets: str) -> str:
        for secret in (self._secret, *secrets):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _call(self, method: str, path: str, params: dict[str, str], body: Any, token: str = "") -> Any:
        url = f"{self.api_base}/{path}"
        try:
            response = self._http.request(method, url, params=params, json=body)
        except httpx.HTTPError as exc:
            reason = self._scrub(f"{type(exc).__name__}: {exc}", token)
            raise WecomApiError(
                _("cannot reach WeCom at {url}: {reason}", url=url, reason=reason),
                errcode=None,
                retryable=True,
            ) from None
        if response.status_code != 200:
            retryable = response.status_code >= 500 or response.status_code == 429
            raise WecomApiError(
                _("WeCom answered HTTP {status} to {path}", status=response.status_code, path=path),
                errcode=None,
                retryable=retryable,
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise WecomApiError(
                _("WeCom answered {path} with something other than a JSON object", path=path),
                errcode=None,
                retryable=True,
            )
        return data

    def _check(self, data: dict[str, Any], path: str, token: str = "") -> dict[str, Any]:
        errcode = data.get("errcode", 0)
        if not isinstance(errcode, int) or errcode == 0:
            return data
        errmsg = self._scrub(str(data.get("errmsg", "")), token)[:300]
        limited = errcode in RATE_LIMIT_ERRCODES
        raise WecomApiError(
            _(
                "WeCom refused {path}: errcode {errcode} ({errmsg})",
                path=path,
                errcode=errcode,
                errmsg=errmsg,
            ),
            errcode=errcode,
            retryable=errcode in RETRYABLE_ERRCODES,
            retry_after=RATE_LIMIT_RETRY_S if limited else None,
        )

    # ---- the access token ---------------------------------------------------------------------------------

    def access_token(self) -> str:
        """A valid access token: the cached one, else a fresh one from ``gettoken``."""
        with self._tokens.lock:
            cached = self._tokens.get(self._key, self._clock())
            if cached is not None:
                return cached
            asked = self._clock()
            data = self._check(
                self._call("GET", "gettoken", {"corpid": self.corp_id, "corpsecret": self._secret}, None),
                "gettoken",
            )
            token, expires_in = data.get("access_token"), data.get("expires_in", 7200)
            if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
                raise WecomApiError(
                    _("WeCom's gettoken answer holds no access_token"), errcode=None, retryable=True
                )
            # Counted from when it was asked for, so a slow answer cannot make the token outlive its life.
            self._tokens.put(self._key, token, asked + expires_in - refresh_margin(float(expires_in)))
            return token

    def request(
        self, method: str, path: str, *, body: Any = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Call ``path`` with the access token; once more with a fresh token on errcode 40014/42001."""
        for attempt in range(2):
            token = self.access_token()
            data = self._call(method, path, {**(params or {}), "access_token": token}, body, token)
            if data.get("errcode") in TOKEN_ERRCODES and attempt == 0:
                with self._tokens.lock:
                    self._tokens.drop(self._key, token)
                continue
            return self._check(data, path, token)
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- the calls sopflow makes --------------------------------------------------------------------------

    def add_contact_way(
        self, *, state: str, users: list[str], skip_verify: bool = True, remark: str = ""
    ) -> ContactWay:
        """A 「联系我」 QR code (scene 2) for ``users`` whose callbacks carry ``state``."""
        body: dict[str, Any] = {
            "type": 1 if len(users) == 1 else 2,
            "scene": 2,
            "state": state,
            "user": users,
            "skip_verify": skip_verify,
        }
        if remark:
            body["remark"] = remark[:30]
        path = "externalcontact/add_contact_way"
        data = self.request("POST", path, body=body)
        config_id, qr_code = data.get("config_id"), data.get("qr_code")
        if not isinstance(config_id, str) or not config_id:
            raise WecomApiError(
                _("WeCom answered {path} without a config_id", path=path), errcode=None, retryable=False
            )
        return ContactWay(config_id=config_id, qr_code=qr_code if isinstance(qr_code, str) else "")

    def del_contact_way(self, config_id: str) -> None:
        self.request("POST", "externalcontact/del_contact_way", body={"config_id": config_id})

    def send_message(
        self,
        *,
        agent_id: int,
        touser: str,
        msgtype: str,
        content: dict[str, Any],
        duplicate_check_s: int = 0,
    ) -> dict[str, Any]:
        """Send an app message; a recipient WeCom names in ``invaliduser`` is a (non-retryable) refusal."""
        body: dict[str, Any] = {"touser": touser, "msgtype": msgtype, "agentid": agent_id, msgtype: content}
        if duplicate_check_s:
            body["enable_duplicate_check"] = 1
            body["duplicate_check_interval"] = duplicate_check_s
        data = self.request("POST", "message/send", body=body)
        invalid = str(data.get("invaliduser") or "")
        if invalid:
            raise WecomApiError(
                _(
                    "WeCom did not deliver to {users}: not a member of the app's visible range",
                    users=invalid,
                ),
                errcode=81013,
                retryable=False,
            )
        return data
