"""Fixtures of the console tests: one browser per test process, a fresh page (and cookie jar) per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.console.browser import require_chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()
