"""The answers of the console's analytics: the library functions the CLI commands call, on the cached engine.

Each answer is the ``--json`` shape of the matching command (``sopflow funnel --json`` is
:meth:`FunnelResult.as_json`, and so on), so the API, the pages and the CLI agree to the byte. Playbooks
come from the app database (published versions, or a campaign's frozen version) instead of a file:
:func:`choose_playbook` reads them in a short transaction of its own, before the engine runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from sopflow.accounts.roles import mask_contact
from sopflow.analytics.frame import Engine
from sopflow.analytics.targets.campaign_steps import CampaignRun
from sopflow.errors import InvalidInput
from sopflow.i18n import _, current_language
from sopflow.playbook.model import Playbook
from sopflow.web.analytics.engines import ENGINES
from sopflow.web.analytics.queries import (
    AarrrQuery,
    DroppedQuery,
    FunnelQuery,
    PlaybookChoice,
    ReferralQuery,
    RetentionQuery,
    RoiQuery,
    TargetsQuery,
    at_field,
)
from sopflow.workspace import Workspace

DROPPED_COLUMNS = ("person_id", "last_step", "last_step_at", "channel")
MAX_EVENT_NAMES = 2000
# Published versions never change: each is parsed once (parsing a big playbook's YAML takes a few tenths of
# a second, more than a remembered answer).
MAX_PARSED = 32
_PARSED: dict[tuple[str, int, str], Playbook] = {}


@dataclass(frozen=True)
class Chosen:
    playbook: Playbook
    ref: str  # which version exactly: ``ID@VERSION`` or ``campaign:ID`` (part of the answer's memory key)
    run: CampaignRun | None = None


def _key(kind: str, query: BaseModel, *extra: Any) -> tuple[Any, ...]:
    """What an answer depends on besides the store: the question, the viewer's language, and ``extra``."""
    return (kind, query.model_dump_json(by_alias=True), current_language(), *extra)


def choose_playbook(*, session: Session, choice: PlaybookChoice, required: bool = True) -> Chosen | None:
    """The playbook of ``choice``: a campaign's frozen version, else the published ``ID[@VERSION]``."""
    from sopflow.campaign.start import frozen_playbook
    from sopflow.playbook.versions import list_versions, parse_ref, version_row

    if choice.campaign is not None and choice.playbook is not None:
        with at_field("campaign"):
            raise InvalidInput(_("give a playbook or a campaign, not both"))
    if choice.campaign is not None:
        from sopflow.analytics.targets.campaign_steps import load_campaign_run

        with at_field("campaign"):
            run = load_campaign_run(session=session, campaign_id=choice.campaign)
        # The answer also depends on the tasks' states (executed, audience), which change in the app database.
        tasks = hashlib.sha256(repr(run.tasks).encode("utf-8")).hexdigest()
        return Chosen(run.playbook, f"campaign:{run.id}:{tasks}", run)
    if choice.playbook is None:
        if not required:
            return None
        with at_field("playbook"):
            raise InvalidInput(_("choose a playbook (ID or ID@VERSION) or a campaign"))
    with at_field("playbook"):
        playbook_id, number = parse_ref(choice.playbook)
        if number is None:
            number = list_versions(session=session, playbook_id=playbook_id)[-1].version
        row = version_row(session=session, playbook_id=playbook_id, version=number)
        key = (row.playbook_id, row.version, row.content_hash)
        parsed = _PARSED.get(key)
        if parsed is None:
            while len(_PARSED) >= MAX_PARSED:
                _PARSED.pop(next(iter(_PARSED)))
            parsed = _PARSED[key] = frozen_playbook(row)
        return Chosen(parsed, f"{playbook_id}@{number}")


def event_names(*, workspace: Workspace) -> dict[str, Any]:
    """The event names and channels in the store, for the funnel builder's pickers."""
    # Names only (in memory): no need to wait for a long query on the engine to finish.
    arrays = getattr(ENGINES.current(workspace), "arrays", None)
    events = sorted(getattr(arrays, "event_names", []) or [])
    channels = sorted(c for c in getattr(arrays, "channel_names", []) or [] if c)
    return {"events": events[:MAX_EVENT_NAMES], "channels": channels[:MAX_EVENT_NAMES]}


def funnel(*, workspace: Workspace, query: FunnelQuery) -> dict[str, Any]:
    from sopflow.analytics.funnel import run_funnel

    spec = query.spec()

    def compute(engine: Engine) -> dict[str, Any]:
        return run_funnel(engine, spec).as_json()

    with at_field("steps"):
        answer: dict[str, Any] = ENGINES.answer(workspace, _key("funnel", query), compute)
    return answer


def dropped(*, workspace: Workspace, query: DroppedQuery, masked: bool) -> list[dict[str, Any]]:
    """Persons who reached step ``dropped_at - 1`` but not ``dropped_at``; ids masked when ``masked``."""
    from sopflow.analytics.funnel import run_funnel

    spec = query.spec(dropped_at=query.dropped_at)

    def compute(engine: Engine) -> list[dict[str, Any]]:
        rows = run_funnel(engine, spec).dropped or []
        if masked:
            rows = [{**row, "person_id": mask_contact(str(row["person_id"]))} for row in rows]
        return rows

    key = _key("dropped", query.model_copy(update={"format": "csv"}), masked)
    with at_field("steps"):
        answer: list[dict[str, Any]] = ENGINES.answer(workspace, key, compute)
    return answer


def retention(*, workspace: Workspace, query: RetentionQuery) -> dict[str, Any]:
    from sopflow.analytics.retention.aggregate import compute_retention
    from sopflow.analytics.retention.definition import RetentionSpec

    span = query.time_range()
    with at_field("start_event"):
        spec = RetentionSpec.make(
            start_event=query.start_event,
            return_event=query.return_event,
            range=span,
            period=query.period,
            periods=query.periods,
            mode=query.mode,
            by=query.by,
            top=query.top,
        )

    def compute(engine: Engine) -> dict[str, Any]:
        return compute_retention(engine, spec).as_json()

    with at_field("start_event"):
        answer: dict[str, Any] = ENGINES.answer(workspace, _key("retention", query), compute)
    return answer


def referral(
    *, workspace: Workspace, query: ReferralQuery, chosen: Chosen | None, masked: bool
) -> dict[str, Any]:
    """``sopflow referral --json``, plus ``tree`` (the top of the invitation tree) when asked for."""
    from sopflow.analytics.referral.aggregate import ReferralSpec, compute_referral

    span = query.time_range()
    with at_field("playbook"):
        if chosen is not None:
            spec = ReferralSpec.from_playbook(chosen.playbook, range=span, top=query.top)
        else:
            spec = ReferralSpec(range=span, top=query.top)

    def compute(engine: Engine) -> dict[str, Any]:
        result = compute_referral(engine, spec)
        data = result.as_json()
        if query.tree:
            from sopflow.web.analytics.tree import tree_top

            data["tree"] = tree_top(result)
        if masked:
            data["top_sharers"] = [{**s, "person": mask_contact(s["person"])} for s in data["top_sharers"]]
            if "tree" in data:
                _mask_tree(data["tree"]["roots"])
        return data

    key = _key("referral", query, chosen.ref if chosen else None, masked)
    with at_field("playbook"):
        answer: dict[str, Any] = ENGINES.answer(workspace, key, compute)
    return answer


def _mask_tree(nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        node["person"] = mask_contact(node["person"])
        _mask_tree(node["children"])


def roi(*, workspace: Workspace, query: RoiQuery, chosen: Chosen) -> dict[str, Any]:
    from sopflow.analytics.roi.aggregate import compute_roi

    span = query.time_range()

    def compute(engine: Engine) -> dict[str, Any]:
        return compute_roi(
            engine=engine, playbook=chosen.playbook, time_range=span, attribution=query.attribution
        ).as_json()

    with at_field("playbook"):
        answer: dict[str, Any] = ENGINES.answer(workspace, _key("roi", query, chosen.ref), compute)
    return answer


def targets(*, workspace: Workspace, query: TargetsQuery, chosen: Chosen) -> dict[str, Any]:
    """``sopflow targets --json``; with a campaign also its per-step table under ``campaign``."""
    from sopflow.analytics.targets.aggregate import compute_targets

    span = query.time_range()

    def compute(engine: Engine) -> dict[str, Any]:
        data = compute_targets(
            engine=engine, playbook=chosen.playbook, time_range=span, attribution=query.attribution
        ).as_json()
        if chosen.run is not None:
            from sopflow.analytics.targets.campaign_steps import compute_campaign_steps

            steps = compute_campaign_steps(engine=engine, run=chosen.run, time_range=span)
            data["campaign"] = steps.as_json()
        return data

    with at_field("playbook"):
        answer: dict[str, Any] = ENGINES.answer(workspace, _key("targets", query, chosen.ref), compute)
    return answer


def aarrr(*, workspace: Workspace, query: AarrrQuery, chosen: Chosen) -> dict[str, Any]:
    from sopflow.analytics.aarrr.aggregate import compute_aarrr

    span = query.time_range()

    def compute(engine: Engine) -> dict[str, Any]:
        by_channel = query.by == "channel"
        return compute_aarrr(
            engine=engine, playbook=chosen.playbook, time_range=span, by_channel=by_channel
        ).as_json()

    with at_field("playbook"):
        answer: dict[str, Any] = ENGINES.answer(workspace, _key("aarrr", query, chosen.ref), compute)
    return answer
