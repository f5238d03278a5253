"""``/audit``: the audit log for admins — who changed, approved, started, exported or revoked what."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from sopflow.accounts.audit import list_audit
from sopflow.i18n import _
from sopflow.web.console.context import open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.widgets import data_table, empty

PAGE_LIMIT = 1000


@ui.page("/audit")
def audit_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Audit log")):
        if not ctx.can("audit.read"):
            empty(_("the audit log is for admins"))
            return None
        with ctx.session() as session:
            entries = [entry.as_json() for entry in list_audit(session=session, limit=PAGE_LIMIT)]
        for entry in entries:
            entry["details"] = ", ".join(f"{k}={v}" for k, v in (entry["details"] or {}).items())
        if not entries:
            empty(_("nothing recorded yet"))
            return None
        data_table(
            ctx,
            rows=entries,
            columns=[
                ("at", _("When")),
                ("actor", _("Who")),
                ("action", _("Action")),
                ("target_kind", _("Kind")),
                ("target_id", _("Target")),
                ("details", _("Details")),
                ("client", _("Address")),
            ],
            export="audit-log",
            row_key="id",
            pagination=50,
        )
    return None
