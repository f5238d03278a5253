"""The Playbooks journey in a real browser: create a playbook from a template, break it in the editor and see
the error at its line, fix it, edit it through the form, publish it, approve it as an admin, compare two
versions; and a viewer sees it all without a way to change it (the API refuses them too)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.console.browser import ConsoleServer, create_user, login, screenshot

from sopflow.playbook.catalog import template_text

pytestmark = pytest.mark.xdist_group("console")

TEMPLATE = "community_fission"
PLAYBOOK_ID = "community_fission_course"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    workspace: Path = tmp_path_factory.mktemp("console-playbooks")
    create_user(workspace, "ada", "admin")
    create_user(workspace, "ollie", "operator")
    create_user(workspace, "vic", "viewer")
    running = ConsoleServer.start(workspace)
    yield running
    running.stop()


def _editor_text(page: Any) -> str:
    return str(page.locator(".cm-content").inner_text())


def test_create_break_fix_publish_and_approve_a_playbook(server: ConsoleServer, page: Any) -> None:
    login(page, server, "ollie")
    page.goto(server.url + "/playbooks")
    page.get_by_test_id(f"template-{TEMPLATE}").click()
    page.wait_for_url(f"{server.url}/playbooks/new?template={TEMPLATE}")
    page.get_by_test_id("problems-ok").wait_for()
    page.get_by_test_id("gantt").wait_for()
    screenshot(page, "playbooks-new-from-template")

    # Break it: an unknown field typed at the end of the document.
    # The template ends with a line break: the end is an empty line, and the typed line break adds one more.
    line = template_text(TEMPLATE).count("\n") + 2
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\ncolour: red")
    problem = page.get_by_test_id("problem").first
    problem.wait_for()
    assert problem.get_attribute("data-line") == str(line)
    assert f"playbook.yaml:{line}:" in problem.inner_text() and "colour" in problem.inner_text()
    # The line is tinted in the editor, and the timeline says it shows the last valid text.
    assert "colour: red" in page.locator(".sopflow-error-line").first.inner_text()
    page.get_by_text("the YAML has problems").first.wait_for()
    # The draft lives only in the page: leaving it now would ask first.
    assert page.evaluate("window.sopflowDraftEdited") is True
    screenshot(page, "playbooks-editor-error-at-its-line")

    # Fix it: select the typed line back to its start and delete it.
    page.keyboard.press("Shift+Home")
    page.keyboard.press("Backspace")
    page.get_by_test_id("problems-ok").wait_for()
    assert page.locator(".sopflow-error-line").count() == 0

    # The form writes back into the YAML, which validates again.
    page.get_by_test_id("tab-form").click()
    page.get_by_test_id("form-meta-name").fill("社群裂变训练营 · 十二月")
    page.get_by_test_id("form-apply").click()
    page.get_by_test_id("problems-ok").filter(has_text="十二月").wait_for()
    # CodeMirror renders only the lines in view: go to the top, where the form's change and the template's
    # comments (kept by the write-back) are.
    page.locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    page.locator(".cm-line").filter(has_text="name: 社群裂变训练营 · 十二月").wait_for()
    assert _editor_text(page).startswith(template_text(TEMPLATE).splitlines()[0])

    page.get_by_test_id("tab-estimate").click()
    page.get_by_test_id("estimate").wait_for()
    screenshot(page, "playbooks-estimate")

    page.get_by_test_id("publish-note").fill("十二月第一版")
    page.get_by_test_id("publish").click()
    page.wait_for_url(f"{server.url}/playbooks/{PLAYBOOK_ID}")
    page.get_by_test_id("version-1").get_by_text("not approved").wait_for()
    assert page.get_by_test_id("approve-1").count() == 0  # operators publish; admins approve
    screenshot(page, "playbooks-published")

    # A second version from the editor of the first, so there is a diff.
    page.get_by_test_id("edit-version").click()
    page.wait_for_url(f"{server.url}/playbooks/{PLAYBOOK_ID}/edit?version=1")
    page.get_by_test_id("problems-ok").wait_for()
    page.get_by_test_id("tab-form").click()
    page.get_by_test_id("form-meta-version").fill("1.1")
    page.get_by_test_id("form-apply").click()
    page.get_by_test_id("problems-ok").filter(has_text="v1.1").wait_for()
    page.get_by_test_id("publish").click()
    page.get_by_test_id("version-2").wait_for()

    login(page, server, "ada")
    page.goto(f"{server.url}/playbooks/{PLAYBOOK_ID}?version=1")
    page.get_by_test_id("approve-1").click()
    page.get_by_test_id("approved-1").get_by_text("approved by ada").wait_for()
    page.get_by_test_id("diff-run").click()
    page.get_by_test_id("diff-yaml").get_by_text('+  version: "1.1"').wait_for()
    page.get_by_test_id("diff-numbers").wait_for()
    screenshot(page, "playbooks-approved-and-diff")

    versions = server.api("ada").get(f"/api/v1/playbooks/{PLAYBOOK_ID}/versions").json()["versions"]
    assert [(v["version"], v["approved_by"], v["published_by"]) for v in versions] == [
        (1, "ada", "ollie"),
        (2, None, "ollie"),
    ]
    assert versions[0]["note"] == "十二月第一版"


def test_a_viewer_sees_playbooks_read_only_and_the_api_refuses_their_writes(
    server: ConsoleServer, page: Any
) -> None:
    text = template_text("store_funnel")
    published = server.api("ollie").post("/api/v1/playbooks", json={"yaml": text})
    assert published.status_code in (200, 201), published.text
    playbook_id = published.json()["version"]["playbook_id"]

    login(page, server, "vic")
    page.goto(server.url + "/playbooks")
    page.get_by_test_id(f"playbook-{playbook_id}").wait_for()
    assert page.get_by_test_id("approval-switch").count() == 0
    page.get_by_test_id(f"playbook-{playbook_id}").click()
    page.get_by_test_id("version-1").wait_for()
    page.get_by_test_id("gantt").wait_for()
    assert page.get_by_test_id("approve-1").count() == 0
    assert page.get_by_test_id("edit-version").count() == 0
    screenshot(page, "playbooks-viewer")

    page.goto(f"{server.url}/playbooks/new?template={TEMPLATE}")
    page.get_by_test_id("problems-ok").wait_for()
    assert page.get_by_test_id("publish").count() == 0
    assert page.locator(".cm-content").get_attribute("contenteditable") == "false"

    viewer = server.api("vic")
    refused = viewer.post(
        "/api/v1/playbooks", json={"yaml": text.replace('version: "1.0"', 'version: "1.2"')}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    approve = viewer.post(f"/api/v1/playbooks/{playbook_id}/versions/1/approve")
    assert approve.status_code == 403
    assert viewer.put("/api/v1/playbooks/approval", json={"required": False}).status_code == 403
    versions = viewer.get(f"/api/v1/playbooks/{playbook_id}/versions").json()["versions"]
    assert [(v["version"], v["approved"]) for v in versions] == [(1, False)]


def test_an_admin_turns_the_approval_requirement_off_and_on(server: ConsoleServer, page: Any) -> None:
    login(page, server, "ada")
    page.goto(server.url + "/playbooks")
    switch = page.get_by_test_id("approval-switch")
    assert switch.get_attribute("aria-checked") == "true"
    switch.click()
    page.get_by_text("approval is now off").wait_for()
    api = server.api("ada")
    assert api.get("/api/v1/playbooks/approval").json() == {"required": False}
    switch.click()
    page.get_by_text("approval is now required").wait_for()
    assert api.get("/api/v1/playbooks/approval").json() == {"required": True}
