"""Settings → delivery endpoints: the list (URLs masked, secrets never shown), a "send test" button for
operators, and for admins adding and disabling. The test goes through the real adapter, off the event loop."""

from __future__ import annotations

from nicegui import run, ui
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.channels.endpoints import (
    EndpointRefused,
    ProbeResult,
    add_endpoint,
    disable_endpoint,
    list_endpoints,
    send_test_message,
)
from sopflow.channels.registry import ADAPTERS
from sopflow.i18n import _
from sopflow.web.api.endpoints import parse_url, update_endpoint
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import empty


def endpoints_panel(ctx: PageContext) -> None:
    manage = ctx.can("endpoints.manage")
    test = ctx.can("endpoints.test")

    def audit(session: Session, action: str, name: str, **details: object) -> None:
        record_audit(
            session=session,
            actor=ctx.user_name,
            action=action,
            target_kind="endpoint",
            target_id=name,
            details=details or None,
        )

    @ui.refreshable
    def endpoint_list() -> None:
        with ctx.session() as session:
            endpoints = list_endpoints(session=session)
        if not endpoints:
            empty(_("no endpoints yet"))
            return
        for endpoint in endpoints:
            with ui.row().classes("items-center gap-4").props(f'data-testid="endpoint-{endpoint.name}"'):
                ui.label(endpoint.name).classes("text-weight-medium w-40")
                ui.label(endpoint.kind).classes("w-32 text-grey-8")
                ui.label(endpoint.url).classes("text-mono text-grey-7").style("max-width: 420px")
                ui.badge(
                    _("active") if endpoint.active else _("disabled"),
                    color="positive" if endpoint.active else "grey",
                )
                if test and endpoint.active:
                    ui.button(
                        _("Send test"),
                        icon="send",
                        on_click=ctx.act("endpoints.test", lambda name=endpoint.name: send(name)),
                    ).props(f'flat dense data-testid="endpoint-test-{endpoint.name}"')
                if manage and endpoint.active:
                    ui.button(
                        _("Disable"),
                        on_click=ctx.act("endpoints.manage", lambda name=endpoint.name: disable(name)),
                    ).props(f'flat dense color=negative data-testid="endpoint-disable-{endpoint.name}"')
                elif manage:
                    ui.button(
                        _("Enable"),
                        on_click=ctx.act("endpoints.manage", lambda name=endpoint.name: enable(name)),
                    ).props(f'flat dense data-testid="endpoint-enable-{endpoint.name}"')

    async def send(name: str) -> None:
        def probe() -> ProbeResult:
            with ctx.session() as session:
                return send_test_message(session=session, name=name)

        try:
            result = await run.io_bound(probe)
        except EndpointRefused as exc:
            with ctx.session() as session:
                audit(session, "endpoint.test", name, ok=False, reason=exc.message[:300])
            raise
        if result is None:  # the server is shutting down
            return
        with ctx.session() as session:
            audit(session, "endpoint.test", name, ok=True)
        ui.notify(
            _("{name} accepted the test message in {seconds:.2f} s", name=name, seconds=result.seconds),
            type="positive",
        )
        result_label.set_text(_("{name}: delivered ({response})", name=name, response=result.response[:200]))

    def add() -> None:
        with ctx.session() as session:
            endpoint = add_endpoint(
                session=session,
                name=str(name_input.value or ""),
                kind=str(kind_input.value or ""),
                url=parse_url(str(url_input.value or "")),
                secret=str(secret_input.value or "") or None,
            )
            audit(session, "endpoint.add", endpoint.name, kind=endpoint.kind)
        for field in (name_input, url_input, secret_input):
            field.set_value("")
        endpoint_list.refresh()

    def disable(name: str) -> None:
        with ctx.session() as session:
            disable_endpoint(session=session, name=name)
            audit(session, "endpoint.disable", name)
        endpoint_list.refresh()

    def enable(name: str) -> None:
        with ctx.session() as session:
            update_endpoint(session=session, name=name, active=True)
            audit(session, "endpoint.update", name, changed=["active"])
        endpoint_list.refresh()

    if manage:
        with ui.row().classes("items-center gap-2"):
            name_input = ui.input(_("Name")).props('dense outlined data-testid="endpoint-name"')
            kind_input = (
                ui.select(sorted(ADAPTERS), value="wecom_robot", label=_("Kind"))
                .props('dense outlined data-testid="endpoint-kind"')
                .classes("w-40")
            )
            url_input = ui.input(_("URL")).props('dense outlined data-testid="endpoint-url"').classes("w-96")
            secret_input = ui.input(_("Secret (if any)"), password=True).props(
                'dense outlined data-testid="endpoint-secret"'
            )
            ui.button(_("Add endpoint"), icon="add", on_click=ctx.act("endpoints.manage", add)).props(
                'data-testid="endpoint-add"'
            )
    endpoint_list()
    result_label = ui.label("").classes("text-positive").props('data-testid="endpoint-test-result"')
