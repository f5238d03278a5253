"""Which adapter speaks each endpoint kind, and the checks a new endpoint's fields must pass.

``ADAPTERS`` is a plain dict so that a new channel is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from sopflow.channels.base import Adapter, EndpointConfig
from sopflow.channels.dingtalk_robot import DingtalkRobotAdapter
from sopflow.channels.email_smtp import EmailAdapter, SmtpSettings, valid_address
from sopflow.channels.feishu_bot import FeishuBotAdapter
from sopflow.channels.webhook import WebhookAdapter
from sopflow.channels.wecom_app import WecomAppAdapter
from sopflow.channels.wecom_robot import WecomRobotAdapter
from sopflow.errors import InvalidInput
from sopflow.i18n import _

ADAPTERS: dict[str, type] = {
    "wecom_robot": WecomRobotAdapter,
    "feishu_bot": FeishuBotAdapter,
    "dingtalk_robot": DingtalkRobotAdapter,
    "email": EmailAdapter,
    "webhook": WebhookAdapter,
    "wecom_app": WecomAppAdapter,
}

if TYPE_CHECKING:
    # mypy checks here that each adapter class matches the Adapter protocol (the dict above is untyped).
    _CHECKED: tuple[type[Adapter], ...] = (
        WecomRobotAdapter,
        FeishuBotAdapter,
        DingtalkRobotAdapter,
        EmailAdapter,
        WebhookAdapter,
    )

# Options each kind understands (anything else is a typo worth reporting).
OPTIONS: dict[str, frozenset[str]] = {
    "email": frozenset({"from", "to", "starttls", "cafile"}),
}

EXAMPLES = {
    "wecom_robot": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY",
    "feishu_bot": "https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN",
    "dingtalk_robot": "https://oapi.dingtalk.com/robot/send?access_token=TOKEN",
    "email": "smtp://user@smtp.example.com:587?starttls=1&from=ops@example.com",
    "webhook": "https://example.com/sopflow/hook",
}


def make_adapter(config: EndpointConfig, *, timeout: float = 10) -> Adapter:
    """The adapter for ``config.kind``; requests it makes time out after ``timeout`` seconds."""
    try:
        adapter_class = ADAPTERS[config.kind]
    except KeyError:
        raise InvalidInput(
            _(
                "unknown endpoint kind {kind!r}; choose one of {choices}",
                kind=config.kind,
                choices=", ".join(ADAPTERS),
            ),
            code="unknown_kind",
        ) from None
    adapter: Adapter = adapter_class(config, timeout=timeout)
    return adapter


def _bad(field: str, reason: str) -> InvalidInput:
    return InvalidInput(_("{field}: {reason}", field=field, reason=reason), code="invalid_endpoint")


def _http_url(kind: str, url: str) -> tuple[Any, dict[str, str]]:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad("--url", _("an http(s) URL is needed, e.g. {example}", example=EXAMPLES[kind]))
    return parts, dict(parse_qsl(parts.query))


def _check_robot(kind: str, url: str, secret: str | None) -> None:
    parts, query = _http_url(kind, url)
    if kind == "wecom_robot":
        if not query.get("key"):
            raise _bad(
                "--url",
                _("a WeCom robot URL carries its key=… query, e.g. {example}", example=EXAMPLES[kind]),
            )
        if secret:
            raise _bad("--secret", _("a WeCom robot has no signing secret: its key is in the URL"))
    elif kind == "feishu_bot":
        token = parts.path.partition("/bot/v2/hook/")[2]
        if not token or "/" in token:
            raise _bad(
                "--url",
                _("a Feishu bot URL ends in /bot/v2/hook/TOKEN, e.g. {example}", example=EXAMPLES[kind]),
            )
    elif kind == "dingtalk_robot":
        if not query.get("access_token"):
            raise _bad(
                "--url",
                _(
                    "a DingTalk robot URL carries its access_token=… query, e.g. {example}",
                    example=EXAMPLES[kind],
                ),
            )
        if "sign" in query or "timestamp" in query:
            raise _bad(
                "--url", _("leave timestamp and sign out of the URL: they are computed for each message")
            )


def _check_email(url: str, secret: str | None, options: Mapping[str, str]) -> None:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname  # parsed lazily: a bad port or bracket raises here
    except ValueError:
        hostname = None
    if hostname is None or parts.scheme not in ("smtp", "smtps"):
        raise _bad(
            "--url", _("an smtp:// or smtps:// URL is needed, e.g. {example}", example=EXAMPLES["email"])
        )
    try:
        settings = SmtpSettings(
            EndpointConfig(name="", kind="email", url=url, secret=secret, options=options)
        )
    except ValueError:
        raise _bad("--url", _("the port is not a number")) from None
    if parts.password:
        raise _bad("--url", _("put the password in --secret, not in the URL"))
    if not settings.sender:
        raise _bad("from", _("the sender address is missing: add from=ADDR to the URL or --option from=ADDR"))
    if not valid_address(settings.sender):
        raise _bad("from", _("{value!r} is not an email address", value=settings.sender))
    for address in settings.to:
        if not valid_address(address):
            raise _bad("to", _("{value!r} is not an email address", value=address))
    if settings.user and not secret:
        raise _bad("--secret", _("the SMTP user {user} needs a password", user=settings.user))
    if settings.password and not settings.user:
        raise _bad("--url", _("a password was given but the URL names no user (smtp://USER@host)"))
    if settings.user and not settings.starttls and not settings.implicit_tls:
        raise _bad("starttls", _("a login needs TLS: use starttls=1 or an smtps:// URL"))


def check_endpoint(kind: str, url: str, secret: str | None, options: Mapping[str, str]) -> None:
    """Raise :class:`InvalidInput` naming the field (``--kind``, ``--url``, ``--secret``, an option)."""
    if kind not in ADAPTERS:
        raise _bad(
            "--kind",
            _(
                "unknown endpoint kind {kind!r}; choose one of {choices}",
                kind=kind,
                choices=", ".join(ADAPTERS),
            ),
        )
    allowed = OPTIONS.get(kind, frozenset())
    for key in options:
        if key not in allowed:
            hint = ", ".join(sorted(allowed)) or _("none")
            raise _bad(
                f"--option {key}",
                _("{kind} has no option {key!r}; options: {allowed}", kind=kind, key=key, allowed=hint),
            )
    if not url.strip():
        raise _bad("--url", _("the URL is empty, e.g. {example}", example=EXAMPLES[kind]))
    if kind == "email":
        _check_email(url, secret, options)
    elif kind == "webhook":
        _http_url(kind, url)
    else:
        _check_robot(kind, url, secret)
