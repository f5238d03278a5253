"""What the HTTP adapters share: one POST with explicit timeouts, the mapping of transport failures and
HTTP statuses onto :class:`DeliveryError`, and masking of the keys that robot URLs carry.

A robot's webhook URL *is* its credential (WeCom ``key=``, DingTalk ``access_token=``, Feishu's last path
segment), so every text that may reach a log or a screen goes through :func:`mask_url` / :func:`scrub`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import httpx

from sopflow.channels.base import DeliveryError, EndpointConfig
from sopflow.i18n import _

# Query parameters that carry a credential in the receivers' URLs.
SECRET_PARAMS = frozenset({"key", "access_token", "token", "sign", "secret", "password"})
SHOWN_REPLY_CHARS = 300


def mask(value: str) -> str:
    """``ab…yz``: enough to tell two keys apart, never enough to use one."""
    if len(value) <= 6:
        return "…"
    return f"{value[:2]}…{value[-2:]}"


def _is_hook_path(path: str) -> bool:
    return "/bot/v2/hook/" in path


def mask_url(url: str) -> str:
    """The URL with credential query values, a password and a Feishu hook token masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask(url)
    # Split by hand rather than re-encode: the rest of the query stays as written, the mask stays readable.
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        name, sep, value = pair.partition("=")
        pairs.append(f"{name}={mask(unquote(value))}" if sep and name.lower() in SECRET_PARAMS else pair)
    query = "&".join(pairs)
    path = parts.path
    if _is_hook_path(path):
        head, _sep, token = path.rpartition("/")
        path = f"{head}/{mask(token)}"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def url_secrets(url: str) -> list[str]:
    """The credential strings inside ``url`` (for :func:`scrub`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [v for k, v in parse_qsl(parts.query, True) if k.lower() in SECRET_PARAMS and v]
    if _is_hook_path(parts.path):
        found.append(parts.path.rpartition("/")[2])
    if parts.password:
        found.append(parts.password)
    return [value for value in found if value]


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each secret replaced by its mask (longest first)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, mask(secret))
    return text


class _MaskUrls(logging.Filter):
    """httpx logs every request's full URL at INFO, which for a robot is its key: mask it in the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_url(str(arg))
                if isinstance(arg, httpx.URL) or (isinstance(arg, str) and "://" in arg)
                else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_MaskUrls())


def make_client(timeout: float) -> httpx.Client:
    # Explicit timeouts on every phase: a receiver that accepts the connection and never answers must not
    # hold a worker beyond its lease. No redirects: a redirected POST could carry the body elsewhere.
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        headers={"User-Agent": "sopflow"},
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_REPLY_CHARS else text[:SHOWN_REPLY_CHARS] + "…"


def send_request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    receiver: str,
    secrets: Iterable[str | None] = (),
    json_body: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    files: Any = None,
) -> httpx.Response:
    """One request; transport failures and 429/5xx become retryable errors, other 4xx final ones.

    ``receiver`` names the endpoint kind in messages ("WeCom robot"); every message is scrubbed of the URL's
    credentials and of ``secrets``.
    """
    hidden = [*url_secrets(url), *secrets]
    shown = mask_url(url)
    try:
        response = client.request(method, url, json=json_body, content=content, headers=headers, files=files)
    except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError) as exc:
        # Nothing left this machine: sending again cannot make a duplicate.
        reason = scrub(str(exc) or type(exc).__name__, hidden)
        raise DeliveryError(
            _("cannot reach {receiver} at {url}: {reason}", receiver=receiver, url=shown, reason=reason),
            retryable=True,
        ) from None
    except httpx.TimeoutException:
        raise DeliveryError(
            _("{receiver} at {url} did not answer in time", receiver=receiver, url=shown),
            retryable=True,
            outcome_unknown=True,
        ) from None
    except httpx.HTTPError as exc:
        reason = scrub(str(exc) or type(exc).__name__, hidden)
        raise DeliveryError(
            _("cannot reach {receiver} at {url}: {reason}", receiver=receiver, url=shown, reason=reason),
            retryable=True,
            outcome_unknown=True,
        ) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise DeliveryError(
            _(
                "{receiver} answered HTTP {status}: {reply}",
                receiver=receiver,
                status=response.status_code,
                reply=scrub(short(response.text), hidden),
            ),
            retryable=True,
            retry_after=_retry_after(response),
        )
    return response


def reply_json(
    response: httpx.Response, *, receiver: str, secrets: Iterable[str | None] = ()
) -> dict[str, Any]:
    """The JSON object a robot answers with; an HTTP error status or a non-JSON reply is a final error."""
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise DeliveryError(
            _(
                "{receiver} answered HTTP {status} with an unexpected reply: {reply}",
                receiver=receiver,
                status=response.status_code,
                reply=scrub(short(response.text), secrets),
            ),
            retryable=False,
        )
    return data


class SignedHttpAdapter:
    """What the adapters that sign HTTP requests with a timestamp share: the endpoint, one HTTP client kept
    between messages, and the clock the signature reads (tests pass a fixed one)."""

    def __init__(
        self,
        config: EndpointConfig,
        *,
        timeout: float = 10,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._client = client or make_client(timeout)
        self._clock = clock

    def close(self) -> None:
        self._client.close()
