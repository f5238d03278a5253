"""Email over SMTP: ``smtp://USER@HOST:587?starttls=1&from=ADDR[&to=ADDR,…]`` (or ``smtps://`` on 465).

The password is the endpoint's secret. With ``starttls=1`` (the default for ``smtp://``) the session is
upgraded before AUTH and a server that does not offer STARTTLS is refused: credentials never travel in
clear. The message is multipart/alternative (plain text and HTML), UTF-8 in subject, names and body;
local files among the attachments travel as attachments. ``cafile`` (option or query) names extra CA
certificates to trust, for a company relay with its own CA (and the tests' self-signed server).
Replies 4xx are temporary (retryable), 5xx final; an SMTP server has no delivery id, so a request whose
outcome is unknown is not resent blindly (``idempotent = False``).
"""

from __future__ import annotations

import base64
import html
import mimetypes
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from sopflow.channels.base import DeliveryError, DeliveryResult, EndpointConfig, Message, RateLimit
from sopflow.channels.http import scrub, short
from sopflow.channels.materials import local_path
from sopflow.i18n import _

RECEIVER = "SMTP server"
ATTACHMENT_BYTES = 10 * 1024 * 1024


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


class SmtpSettings:
    """The parts of an email endpoint's URL and options, validated by :func:`parse_smtp`."""

    def __init__(self, config: EndpointConfig) -> None:
        parts = urlsplit(config.url)
        query = dict(parse_qsl(parts.query))
        merged = {**query, **dict(config.options)}
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or ""
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.user = unquote(parts.username) if parts.username else None
        self.password = config.secret
        self.starttls = not self.implicit_tls and _flag(merged.get("starttls", "1"))
        self.sender = merged.get("from", "")
        self.to = [a.strip() for a in merged.get("to", "").split(",") if a.strip()]
        self.cafile = merged.get("cafile") or None


def valid_address(value: str) -> bool:
    _name, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain and " " not in address)


def _html(message: Message) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in message.text.split("\n\n") if p
    )
    link = f'<p><a href="{html.escape(message.link, quote=True)}">{html.escape(message.title or message.link)}</a></p>'
    return f"<!doctype html><html><body>{paragraphs}{link if message.link else ''}</body></html>"


class EmailAdapter:
    kind: ClassVar[str] = "email"
    idempotent: ClassVar[bool] = False
    rate_limit: ClassVar[RateLimit | None] = None

    def __init__(self, config: EndpointConfig, *, timeout: float = 10) -> None:
        self.config = config
        self.settings = SmtpSettings(config)
        self.timeout = timeout

    def close(self) -> None:
        """Nothing held between messages: one SMTP session per message."""

    def build(self, message: Message) -> EmailMessage:
        recipients = [message.recipient] if message.recipient else self.settings.to
        if not recipients:
            raise DeliveryError(
                _("the email has no recipient: set the endpoint's to= option"), retryable=False
            )
        mail = EmailMessage()
        mail["Subject"] = message.title or message.text.split("\n", 1)[0][:78]
        mail["From"] = self.settings.sender
        mail["To"] = ", ".join(recipients)
        mail["Message-ID"] = make_msgid(idstring=message.delivery_id or None, domain="sopflow")
        if message.delivery_id:
            mail["X-Sopflow-Delivery"] = message.delivery_id
        body = message.text + (f"\n\n{message.link}" if message.link else "")
        mail.set_content(body, charset="utf-8")
        mail.add_alternative(_html(message), subtype="html", charset="utf-8")
        for attachment in message.attachments:
            path = local_path(attachment.uri)
            if path is None or not path.is_file() or path.stat().st_size > ATTACHMENT_BYTES:
                continue
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            maintype, subtype = ctype.split("/", 1)
            data = path.read_bytes()
            try:
                # Text travels as text with its charset, so mail clients show it rather than guess.
                text = data.decode("utf-8") if maintype == "text" else None
            except UnicodeDecodeError:
                text = None
            if text is not None:
                mail.add_attachment(text, subtype=subtype, charset="utf-8", filename=path.name)
            else:
                mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
        return mail

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.cafile:
            context.load_verify_locations(cafile=self.settings.cafile)
        return context

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.implicit_tls:
            return smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=self._context())
        smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        if s.starttls:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                smtp.close()
                raise DeliveryError(
                    _(
                        "the SMTP server {host} does not offer STARTTLS; refusing to send credentials in clear",
                        host=s.host,
                    ),
                    retryable=False,
                )
            smtp.starttls(context=self._context())
            smtp.ehlo()
        return smtp

    def send(self, message: Message) -> DeliveryResult:
        mail = self.build(message)
        s = self.settings
        hidden = [self.config.secret]
        try:
            with self._connect() as smtp:
                if s.user:
                    _login(smtp, s.user, s.password or "")
                refused = smtp.send_message(mail)
                reply = smtp.noop()
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                _(
                    "{receiver} refused the login of {user}: {code} {reply}",
                    receiver=RECEIVER,
                    user=s.user,
                    code=exc.smtp_code,
                    reply=_decode(exc.smtp_error),
                ),
                retryable=False,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            detail = "; ".join(
                f"{addr}: {code} {_decode(text)}" for addr, (code, text) in exc.recipients.items()
            )
            raise DeliveryError(
                _(
                    "{receiver} refused the recipients: {detail}",
                    receiver=RECEIVER,
                    detail=scrub(detail, hidden),
                ),
                retryable=all(400 <= code < 500 for code in codes),
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                _(
                    "{receiver} answered {code}: {reply}",
                    receiver=RECEIVER,
                    code=exc.smtp_code,
                    reply=scrub(_decode(exc.smtp_error), hidden),
                ),
                retryable=400 <= exc.smtp_code < 500,
            ) from None
        except ssl.SSLError as exc:
            raise DeliveryError(
                _(
                    "TLS with the SMTP server {host} failed: {reason}",
                    host=s.host,
                    reason=exc.reason or str(exc),
                ),
                retryable=False,
            ) from None
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            reason = scrub(str(exc) or type(exc).__name__, hidden)
            raise DeliveryError(
                _(
                    "cannot reach {receiver} at {host}:{port}: {reason}",
                    receiver=RECEIVER,
                    host=s.host,
                    port=s.port,
                    reason=reason,
                ),
                retryable=True,
            ) from None
        # Refused recipients alongside accepted ones: the message left, so this is a success (resending
        # would reach the accepted ones twice); the log says who did not get it.
        note = f"; refused: {', '.join(refused)}" if refused else ""
        return DeliveryResult(response=short(f"{reply[0]} {_decode(reply[1])}; sent to {mail['To']}{note}"))


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH PLAIN by hand where offered (RFC 4616: UTF-8; smtplib would encode a password such as ``密码``
    as ASCII and fail, and after a refusal it tries the next mechanism instead of reporting it)."""
    smtp.ehlo_or_helo_if_needed()
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        if user.isascii() and password.isascii():
            smtp.login(user, password)
            return
        raise DeliveryError(
            _("the SMTP server offers no AUTH PLAIN, which a non-ASCII user name or password needs"),
            retryable=False,
        )
    token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")).decode("ascii")
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
