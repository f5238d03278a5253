"""The email adapter against a real SMTP server (aiosmtpd) with STARTTLS, a self-signed certificate and AUTH."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sopflow.channels.base import Attachment, DeliveryError, EndpointConfig, Message
from sopflow.channels.registry import make_adapter

USER, PASSWORD = "ops@example.com", "pässwörd-秘密-1234"


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("busy@"):
            return "450 4.2.1 mailbox busy, try later"
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (USER, PASSWORD)
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Smtp:
    port: int
    cafile: Path
    mailbox: Mailbox


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Smtp]:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=mailbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield Smtp(port, cert, mailbox)
    controller.stop()


def _config(smtp: Smtp, password: str | None = PASSWORD, **options: str) -> EndpointConfig:
    url = f"smtp://{USER.replace('@', '%40')}@127.0.0.1:{smtp.port}?starttls=1&from={USER}"
    return EndpointConfig(
        name="mail", kind="email", url=url, secret=password, options={"cafile": str(smtp.cafile), **options}
    )


def test_utf8_multipart_mail_over_starttls_with_auth(smtp: Smtp, tmp_path: Path) -> None:
    plan = tmp_path / "活动方案.txt"
    plan.write_text("预期：100 人参加", encoding="utf-8")
    message = Message(
        title="【提醒】第 2 天 20:00 群内分享",
        text="王老师：\n\n请在 20:00 发话术 A。",
        link="https://example.com/sop",
        recipient="wang@example.com",
        delivery_id="task-42-a1",
        attachments=(Attachment("活动方案", "file", str(plan)),),
    )
    result = make_adapter(_config(smtp), timeout=5).send(message)
    assert "250" in result.response
    assert smtp.mailbox.logins == [USER]
    ((rcpts, mail),) = smtp.mailbox.messages
    assert rcpts == ["wang@example.com"]
    assert mail["Subject"] == "【提醒】第 2 天 20:00 群内分享"
    assert mail["X-Sopflow-Delivery"] == "task-42-a1"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and "请在 20:00 发话术 A。" in plain.get_content()
    assert html is not None and '<a href="https://example.com/sop">' in html.get_content()
    (attached,) = list(mail.iter_attachments())
    assert attached.get_filename() == "活动方案.txt" and attached.get_content().strip() == "预期：100 人参加"


def test_wrong_password_is_final_and_hides_the_password(smtp: Smtp) -> None:
    with pytest.raises(DeliveryError) as info:
        make_adapter(_config(smtp, password="wrong-password"), timeout=5).send(
            Message(title="t", text="x", recipient="a@example.com")
        )
    assert info.value.retryable is False and "535" in info.value.message
    assert "wrong-password" not in info.value.message and smtp.mailbox.messages == []


def test_temporary_refusal_is_retryable_and_permanent_is_not(smtp: Smtp) -> None:
    adapter = make_adapter(_config(smtp), timeout=5)
    with pytest.raises(DeliveryError) as busy:
        adapter.send(Message(title="t", text="x", recipient="busy@example.com"))
    assert busy.value.retryable is True and "450" in busy.value.message
    with pytest.raises(DeliveryError) as gone:
        adapter.send(Message(title="t", text="x", recipient="nobody@example.com"))
    assert gone.value.retryable is False and "550" in gone.value.message


def test_untrusted_certificate_is_refused(smtp: Smtp) -> None:
    config = _config(smtp)
    config = EndpointConfig(name=config.name, kind="email", url=config.url, secret=config.secret, options={})
    with pytest.raises(DeliveryError, match="TLS") as info:
        make_adapter(config, timeout=5).send(Message(title="t", text="x", recipient="a@example.com"))
    assert info.value.retryable is False and smtp.mailbox.logins == []


def test_a_server_without_starttls_gets_no_credentials() -> None:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        url = f"smtp://user@127.0.0.1:{port}?from=ops@example.com"
        config = EndpointConfig(name="m", kind="email", url=url, secret="secret-password")
        with pytest.raises(DeliveryError, match="STARTTLS") as info:
            make_adapter(config, timeout=5).send(Message(title="t", text="x", recipient="a@example.com"))
        assert info.value.retryable is False and mailbox.messages == []
    finally:
        controller.stop()


def test_no_recipient_is_a_clear_final_error(smtp: Smtp) -> None:
    with pytest.raises(DeliveryError, match="no recipient") as info:
        make_adapter(_config(smtp), timeout=5).send(Message(title="t", text="x"))
    assert info.value.retryable is False
    make_adapter(_config(smtp, to="team@example.com,boss@example.com"), timeout=5).send(
        Message(title="t", text="x")
    )
    assert smtp.mailbox.messages[0][0] == ["team@example.com", "boss@example.com"]
