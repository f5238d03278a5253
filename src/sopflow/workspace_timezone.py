"""The workspace timezone set in the console, kept in the app database (``workspace_settings``).

Until someone sets it, it is the installation's ``timezone`` setting (``SOPFLOW_TIMEZONE``, default
Asia/Shanghai). Naive timestamps of files imported in the console are read in it, and the overview counts
"today" in it. Changing it is audited with the before and after.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.store.runs import WorkspaceSetting
from sopflow.store.settings_table import store_setting

TIMEZONE_KEY = "workspace.timezone"


def check_timezone(value: str) -> str:
    clean = value.strip()
    try:
        if not clean or clean != clean.strip("/") or ".." in clean:
            raise ValueError(clean)
        ZoneInfo(clean)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, like 'America'
        raise InvalidInput(
            _("timezone: unknown timezone {value!r}; use an IANA name such as Asia/Shanghai", value=value),
            code="invalid_timezone",
        ) from None
    return clean


def workspace_timezone(*, session: Session, default: str) -> str:
    """The workspace's timezone: the one set in the console, else ``default`` (the installation's)."""
    setting = session.get(WorkspaceSetting, TIMEZONE_KEY)
    if setting is None or not isinstance(setting.value, str):
        return default
    return setting.value


def set_workspace_timezone(
    *,
    session: Session,
    timezone: str,
    default: str,
    actor: str,
    client: str | None = None,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Set it (audited); returns (before, after). Raises :class:`InvalidInput` for an unknown name."""
    after = check_timezone(timezone)
    before = workspace_timezone(session=session, default=default)
    store_setting(
        session=session, key=TIMEZONE_KEY, value=after, before=before, actor=actor, client=client, now=now
    )
    return before, after
