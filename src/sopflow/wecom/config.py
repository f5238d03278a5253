"""WeCom settings and QR-code states, kept in the app database; service functions for the CLI and server.

The token, EncodingAESKey and app secret are secrets: :class:`WecomConfig` leaves them out of its ``repr``
and :meth:`WecomConfig.public` shows only whether each is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _
from sopflow.store.wecom import WecomSettings, WecomState
from sopflow.wecom.crypto import CallbackCrypto, decode_aes_key

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin"
MAX_STATE_CHARS = 30  # WeCom's limit for a contact way's state
MAX_CHANNEL_CHARS = 200


@dataclass(frozen=True)
class WecomConfig:
    corp_id: str
    token: str = field(repr=False)
    aes_key: str = field(repr=False)
    secret: str = field(repr=False)
    agent_id: int | None
    api_base: str

    def crypto(self) -> CallbackCrypto:
        return CallbackCrypto.create(
            token=self.token, encoding_aes_key=self.aes_key, receiver_id=self.corp_id
        )

    def public(self) -> dict[str, Any]:
        """What may be shown: the corp id, agent id and API base; for each secret, only whether it is set."""
        return {
            "corp_id": self.corp_id,
            "agent_id": self.agent_id,
            "api_base": self.api_base,
            "token_set": bool(self.token),
            "aes_key_set": bool(self.aes_key),
            "secret_set": bool(self.secret),
        }


@dataclass(frozen=True)
class StatePublic:
    state: str
    channel: str
    config_id: str | None
    qr_code: str | None
    staff: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "channel": self.channel,
            "config_id": self.config_id,
            "qr_code": self.qr_code,
            "staff": list(self.staff),
        }


class WecomNotConfigured(NotFound):
    code = "wecom_not_configured"


def _config(row: WecomSettings) -> WecomConfig:
    return WecomConfig(
        corp_id=row.corp_id,
        token=row.token,
        aes_key=row.aes_key,
        secret=row.secret,
        agent_id=row.agent_id,
        api_base=row.api_base,
    )


def _plain(value: str, option: str, limit: int) -> str:
    text = value.strip()
    if not text or len(text) > limit or any(ch.isspace() for ch in text):
        raise InvalidInput(
            _("{option}: expected 1 to {limit} characters without spaces", option=option, limit=limit),
            code="invalid_wecom_setting",
        )
    return text


def _api_base(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            _("--api-base: expected an http(s) URL such as {example}", example=DEFAULT_API_BASE),
            code="invalid_wecom_setting",
        )
    return value.strip().rstrip("/")


def load_wecom(*, session: Session) -> WecomConfig | None:
    row = session.get(WecomSettings, 1)
    return _config(row) if row is not None else None


def require_wecom(*, session: Session) -> WecomConfig:
    config = load_wecom(session=session)
    if config is None:
        raise WecomNotConfigured(
            _(
                "WeCom is not configured; run `sopflow wecom configure --corp-id … --token … --aes-key … --secret …`"
            )
        )
    return config


def configure_wecom(
    *,
    session: Session,
    corp_id: str | None = None,
    token: str | None = None,
    aes_key: str | None = None,
    secret: str | None = None,
    agent_id: int | None = None,
    api_base: str | None = None,
    now: datetime | None = None,
) -> WecomConfig:
    """Store the given settings (the first call needs all four credentials; later ones change some)."""
    row = session.get(WecomSettings, 1)
    given = {"--corp-id": corp_id, "--token": token, "--aes-key": aes_key, "--secret": secret}
    if row is None:
        missing = [option for option, value in given.items() if value is None]
        if missing:
            raise InvalidInput(
                _("WeCom is not configured yet: give {options} too", options=", ".join(missing)),
                code="invalid_wecom_setting",
            )
    if aes_key is not None:
        decode_aes_key(aes_key)
    if agent_id is not None and agent_id <= 0:
        raise InvalidInput(_("--agent-id: expected a positive number"), code="invalid_wecom_setting")
    values = {
        "corp_id": _plain(corp_id, "--corp-id", 64) if corp_id is not None else None,
        "token": _plain(token, "--token", 64) if token is not None else None,
        "aes_key": aes_key.strip() if aes_key is not None else None,
        "secret": _plain(secret, "--secret", 200) if secret is not None else None,
        "agent_id": agent_id,
        "api_base": _api_base(api_base) if api_base is not None else None,
    }
    if row is None:
        row = WecomSettings(id=1, api_base=DEFAULT_API_BASE)
        session.add(row)
    for name, value in values.items():
        if value is not None:
            setattr(row, name, value)
    row.updated_at = now or datetime.now(UTC)
    session.flush()
    return _config(row)


def _public_state(row: WecomState) -> StatePublic:
    return StatePublic(
        state=row.state,
        channel=row.channel,
        config_id=row.config_id,
        qr_code=row.qr_code,
        staff=tuple(row.staff or ()),
    )


def check_state(state: str) -> str:
    return _plain(state, "state", MAX_STATE_CHARS)


def check_channel(channel: str) -> str:
    text = channel.strip()
    if not text or len(text) > MAX_CHANNEL_CHARS:
        raise InvalidInput(
            _("channel: expected 1 to {limit} characters", limit=MAX_CHANNEL_CHARS), code="invalid_channel"
        )
    return text


def parse_assignment(text: str) -> tuple[str, str]:
    """``state=channel`` → (state, channel); :class:`InvalidInput` naming the text otherwise."""
    state, sep, channel = text.partition("=")
    if not sep:
        raise InvalidInput(
            _("--set {text!r}: expected STATE=CHANNEL, e.g. moments_poster=moments", text=text),
            code="invalid_state",
        )
    return check_state(state), check_channel(channel)


def set_states(
    *, session: Session, mapping: dict[str, str], now: datetime | None = None
) -> list[StatePublic]:
    """Map each state to its channel (creating or changing it); returns every state."""
    when = now or datetime.now(UTC)
    for state, channel in mapping.items():
        row = session.get(WecomState, check_state(state))
        if row is None:
            session.add(
                WecomState(
                    state=state, channel=check_channel(channel), staff=[], created_at=when, updated_at=when
                )
            )
        else:
            row.channel, row.updated_at = check_channel(channel), when
    session.flush()
    return list_states(session=session)


def remove_states(*, session: Session, states: list[str]) -> None:
    for state in states:
        if session.get(WecomState, state) is None:
            raise NotFound(_("unknown state {state!r}", state=state), code="unknown_state")
    session.execute(delete(WecomState).where(WecomState.state.in_(states)))


def list_states(*, session: Session) -> list[StatePublic]:
    rows = session.scalars(select(WecomState).order_by(WecomState.state))
    return [_public_state(row) for row in rows]


def state_channels(*, session: Session) -> dict[str, str]:
    return {
        state: channel for state, channel in session.execute(select(WecomState.state, WecomState.channel))
    }


def add_qr_state(
    *, session: Session, state: str, channel: str, staff: list[str], now: datetime | None = None
) -> None:
    """Reserve ``state`` for a QR code about to be created (refused if the state is taken)."""
    if session.get(WecomState, check_state(state)) is not None:
        raise InvalidInput(_("state {state!r} is already mapped", state=state), code="state_taken")
    when = now or datetime.now(UTC)
    session.add(
        WecomState(state=state, channel=check_channel(channel), staff=staff, created_at=when, updated_at=when)
    )
    session.flush()


def record_qr_code(
    *, session: Session, state: str, config_id: str | None, qr_code: str | None
) -> StatePublic:
    row = session.get(WecomState, state)
    if row is None:
        raise NotFound(_("unknown state {state!r}", state=state), code="unknown_state")
    row.config_id, row.qr_code, row.updated_at = config_id, qr_code, datetime.now(UTC)
    session.flush()
    return _public_state(row)


def find_state(*, session: Session, state: str) -> StatePublic:
    row = session.get(WecomState, state)
    if row is None:
        raise NotFound(_("unknown state {state!r}", state=state), code="unknown_state")
    return _public_state(row)
