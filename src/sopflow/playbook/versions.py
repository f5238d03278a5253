"""Published playbook versions, their approval, and which version a campaign runs.

- Publishing stores the YAML exactly as written (after validation) as the next version number of its
  ``meta.id``, with the SHA-256 of its UTF-8 text. Content already published under that id is not stored
  again: the result points at the existing version and says so (``created`` false).
- A version is approved once, by a named person; approving it again changes nothing.
- ``campaign.require_approval`` (a workspace setting, on unless turned off) decides what
  :func:`resolve_version` accepts: with it on, only approved versions run, and a bare ``ID`` means the
  newest approved version; with it off, any version, and ``ID`` means the newest one.

The comparison of two versions (YAML and plan numbers) is in :mod:`sopflow.playbook.version_diff`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.errors import InvalidInput, NotFound, SopflowError
from sopflow.i18n import _
from sopflow.playbook.loader import load_playbook, parse_playbook
from sopflow.playbook.model import Playbook
from sopflow.playbook.problems import PlaybookInvalid
from sopflow.store.runs import PlaybookVersion, WorkspaceSetting
from sopflow.store.settings_table import store_setting

REQUIRE_APPROVAL = "campaign.require_approval"
MAX_PERSON_CHARS = 100
MAX_NOTE_CHARS = 2000
_VERSION_TEXT = re.compile(r"^[vV]?(\d{1,9})$")


class NotApproved(InvalidInput):
    code = "not_approved"


class PublishConflict(SopflowError):
    code = "publish_conflict"
    exit_code = 1
    http_status = 409


@dataclass(frozen=True)
class VersionPublic:
    """What is shown about a version (the content itself only where asked for)."""

    playbook_id: str
    version: int
    name: str
    declared_version: str
    content_hash: str
    note: str
    source: str
    published_at: datetime
    published_by: str
    approved_at: datetime | None
    approved_by: str | None

    @property
    def approved(self) -> bool:
        return self.approved_at is not None

    @property
    def ref(self) -> str:
        return f"{self.playbook_id}@{self.version}"

    def as_json(self) -> dict[str, Any]:
        return {
            "playbook_id": self.playbook_id,
            "version": self.version,
            "ref": self.ref,
            "name": self.name,
            "declared_version": self.declared_version,
            "content_hash": self.content_hash,
            "note": self.note,
            "source": self.source,
            "published_at": self.published_at.isoformat(),
            "published_by": self.published_by,
            "approved": self.approved,
            "approved_at": self.approved_at.isoformat() if self.approved_at else None,
            "approved_by": self.approved_by,
        }


def public(row: PlaybookVersion) -> VersionPublic:
    return VersionPublic(
        playbook_id=row.playbook_id,
        version=row.version,
        name=row.name,
        declared_version=row.declared_version,
        content_hash=row.content_hash,
        note=row.note,
        source=row.source,
        published_at=row.published_at,
        published_by=row.published_by,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
    )


@dataclass(frozen=True)
class PublishResult:
    version: VersionPublic
    created: bool  # false: the same content was already published as this version

    def as_json(self) -> dict[str, Any]:
        return {"created": self.created, "version": self.version.as_json()}


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _person(value: str, *, option: str, required: bool) -> str:
    clean = " ".join(value.split())
    if required and not clean:
        raise InvalidInput(_("{option}: give the person's name", option=option), code="person_required")
    if len(clean) > MAX_PERSON_CHARS:
        raise InvalidInput(
            _("{option}: a name has at most {n} characters", option=option, n=MAX_PERSON_CHARS),
            code="invalid_person",
        )
    return clean


def read_playbook_file(path: Path) -> tuple[str, Playbook]:
    """The text of a playbook file exactly as written, and the playbook it validates to."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        load_playbook(path)  # fails the same way, with the loader's file:1:1 problem
        raise
    playbook, problems = parse_playbook(text, filename=str(path))
    if playbook is None:
        raise PlaybookInvalid(problems)
    return text, playbook


def publish_file(
    *, session: Session, path: Path, note: str = "", by: str = "", now: datetime | None = None
) -> PublishResult:
    text, playbook = read_playbook_file(path)
    return publish_playbook(
        session=session, text=text, playbook=playbook, source=str(path), note=note, by=by, now=now
    )


def publish_text(
    *,
    session: Session,
    text: str,
    source: str,
    note: str = "",
    by: str = "",
    now: datetime | None = None,
) -> PublishResult:
    """Validate ``text`` (problems name ``source``) and publish it; a built-in template's text works too."""
    playbook, problems = parse_playbook(text, filename=source)
    if playbook is None:
        raise PlaybookInvalid(problems)
    return publish_playbook(
        session=session, text=text, playbook=playbook, source=source, note=note, by=by, now=now
    )


def publish_playbook(
    *,
    session: Session,
    text: str,
    playbook: Playbook,
    source: str,
    note: str = "",
    by: str = "",
    now: datetime | None = None,
) -> PublishResult:
    """Store ``text`` (already validated into ``playbook``) as the next version of ``meta.id``."""
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(
            _("--note: a note has at most {n} characters", n=MAX_NOTE_CHARS), code="invalid_note"
        )
    by = _person(by, option="--by", required=False)
    digest = content_hash(text)
    playbook_id = playbook.meta.id
    same = session.scalars(
        select(PlaybookVersion).where(
            PlaybookVersion.playbook_id == playbook_id, PlaybookVersion.content_hash == digest
        )
    ).first()
    if same is not None:
        return PublishResult(public(same), created=False)
    latest = session.scalar(
        select(func.max(PlaybookVersion.version)).where(PlaybookVersion.playbook_id == playbook_id)
    )
    row = PlaybookVersion(
        playbook_id=playbook_id,
        version=(latest or 0) + 1,
        name=playbook.meta.name,
        declared_version=playbook.meta.version,
        content=text,
        content_hash=digest,
        note=note,
        source=source[:500],
        published_at=now or datetime.now(UTC),
        published_by=by,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # Another publish of this playbook took the same number (or the same content) first; the unique
        # constraints refused ours and the caller's transaction rolls back whole. A second try sees theirs.
        raise PublishConflict(
            _("{id}: another version was published at the same moment; publish again", id=playbook_id)
        ) from None
    record_audit(
        session=session,
        actor=by or "system",
        action="playbook.publish",
        target_kind="playbook_version",
        target_id=f"{playbook_id}@{row.version}",
        details={"content_hash": digest, "note": note},
        now=now,
    )
    return PublishResult(public(row), created=True)


def _known_ids(session: Session) -> str:
    ids = session.scalars(
        select(PlaybookVersion.playbook_id).distinct().order_by(PlaybookVersion.playbook_id)
    )
    return ", ".join(ids) or _("none")


def _rows(session: Session, playbook_id: str) -> list[PlaybookVersion]:
    rows = list(
        session.scalars(
            select(PlaybookVersion)
            .where(PlaybookVersion.playbook_id == playbook_id)
            .order_by(PlaybookVersion.version)
        )
    )
    if not rows:
        raise NotFound(
            _(
                "no published playbook {id!r}; published playbooks: {known} "
                "(publish one with: sopflow playbook publish FILE)",
                id=playbook_id,
                known=_known_ids(session),
            ),
            code="unknown_playbook",
        )
    return rows


def parse_version_number(value: str | int, *, what: str = "VERSION") -> int:
    """``3``, ``"3"`` or ``"v3"`` → 3; anything else names ``what`` in its error."""
    match = _VERSION_TEXT.match(str(value).strip())
    number = int(match.group(1)) if match else 0
    if number < 1:
        raise InvalidInput(
            _("{what}: expected a version number such as 2 (got {value!r})", what=what, value=str(value)),
            code="invalid_version",
        )
    return number


def version_row(*, session: Session, playbook_id: str, version: int) -> PlaybookVersion:
    """The row of ``playbook_id`` version ``version``, or NotFound naming the versions there are."""
    rows = _rows(session, playbook_id)
    found = next((row for row in rows if row.version == version), None)
    if found is None:
        raise NotFound(
            _(
                "{id} has no version {version}; versions: {known}",
                id=playbook_id,
                version=version,
                known=", ".join(str(row.version) for row in rows),
            ),
            code="unknown_version",
        )
    return found


def list_versions(*, session: Session, playbook_id: str) -> list[VersionPublic]:
    return [public(row) for row in _rows(session, playbook_id)]


@dataclass(frozen=True)
class PlaybookSummary:
    playbook_id: str
    name: str
    versions: int
    latest: int
    latest_approved: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "playbook_id": self.playbook_id,
            "name": self.name,
            "versions": self.versions,
            "latest": self.latest,
            "latest_approved": self.latest_approved,
        }


def list_playbooks(*, session: Session) -> list[PlaybookSummary]:
    """Every published playbook id with its newest version and newest approved version."""
    by_id: dict[str, list[PlaybookVersion]] = {}
    for row in session.scalars(select(PlaybookVersion).order_by(PlaybookVersion.version)):
        by_id.setdefault(row.playbook_id, []).append(row)
    return [
        PlaybookSummary(
            playbook_id=pid,
            name=rows[-1].name,
            versions=len(rows),
            latest=rows[-1].version,
            latest_approved=max((r.version for r in rows if r.approved_at is not None), default=None),
        )
        for pid, rows in sorted(by_id.items())
    ]


@dataclass(frozen=True)
class ApproveResult:
    version: VersionPublic
    changed: bool  # false: it was already approved (by whom the version says)

    def as_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "version": self.version.as_json()}


def approve_version(
    *, session: Session, playbook_id: str, version: int, by: str, now: datetime | None = None
) -> ApproveResult:
    who = _person(by, option="--by", required=True)
    row = version_row(session=session, playbook_id=playbook_id, version=version)
    if row.approved_at is not None:
        return ApproveResult(public(row), changed=False)
    row.approved_at = now or datetime.now(UTC)
    row.approved_by = who
    session.flush()
    record_audit(
        session=session,
        actor=who,
        action="playbook.approve",
        target_kind="playbook_version",
        target_id=f"{playbook_id}@{version}",
        now=now,
    )
    return ApproveResult(public(row), changed=True)


def approval_required(*, session: Session) -> bool:
    setting = session.get(WorkspaceSetting, REQUIRE_APPROVAL)
    return True if setting is None else bool(setting.value)


def set_approval_required(
    *, session: Session, required: bool, by: str = "system", now: datetime | None = None
) -> bool:
    """Turn the approval requirement on or off; returns whether it was on before."""
    before = approval_required(session=session)
    store_setting(session=session, key=REQUIRE_APPROVAL, value=required, before=before, actor=by, now=now)
    return before


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``ID`` → (ID, None); ``ID@VERSION`` → (ID, VERSION)."""
    playbook_id, sep, version = ref.strip().partition("@")
    playbook_id = playbook_id.strip()
    if not playbook_id or (sep and not version.strip()):
        raise InvalidInput(
            _("playbook {ref!r}: expected ID or ID@VERSION, such as moments_7day@2", ref=ref),
            code="invalid_playbook_ref",
        )
    return playbook_id, (parse_version_number(version, what=ref.strip()) if sep else None)


def _approve_hint(playbook_id: str, version: int) -> str:
    return _(
        "approve it with: sopflow playbook approve {id} {version} --by NAME", id=playbook_id, version=version
    )


def resolve_version(*, session: Session, ref: str) -> PlaybookVersion:
    """The version a campaign of ``ref`` runs (``ID`` or ``ID@VERSION``), honouring the approval setting."""
    playbook_id, number = parse_ref(ref)
    required = approval_required(session=session)
    if number is not None:
        row = version_row(session=session, playbook_id=playbook_id, version=number)
        if required and row.approved_at is None:
            raise NotApproved(
                _(
                    "{ref}: version {version} is not approved; {hint}",
                    ref=f"{playbook_id}@{number}",
                    version=number,
                    hint=_approve_hint(playbook_id, number),
                )
            )
        return row
    rows = _rows(session, playbook_id)
    if not required:
        return rows[-1]
    approved = [row for row in rows if row.approved_at is not None]
    if not approved:
        latest = rows[-1].version
        raise NotApproved(
            _(
                "{id}: no version is approved (the newest is {version}); {hint}",
                id=playbook_id,
                version=latest,
                hint=_approve_hint(playbook_id, latest),
            )
        )
    return approved[-1]
