"""Browser tests of the web console (issue 16): Playwright drives Debian's Chromium (`apt-get install chromium`;
Playwright's own browser download is not used) against a real server process.

Every page a test opens goes through `Console`: requests anywhere but the server under test are aborted and kept
(a test then asserts there were none), each page can be screenshotted into tests/browser/artefacts/ and checked
with axe-core (tests/browser/axe.min.js, axe-core 4.14.1 from the npm registry, MPL-2.0; injected by the tests
only, never served), failing on any serious or critical violation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable
from tests.integration.test_audit_chain import free_port, wait_ready

CHROMIUM = os.environ.get("BONEMETS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HERE = Path(__file__).parent
ARTEFACTS = HERE / "artefacts"
AXE = (HERE / "axe.min.js").read_text()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests (each test gets fresh contexts: cookies never leak between them). Stopped
    with the package: Playwright's sync API keeps an event loop running in the main thread while it is open, and
    every later test that runs one of its own (asyncio.run) would fail."""
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


class Server:
    """`bonemets serve` in its own process, on a free port, with `env`; its log kept for the tests to read."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)],
                                        env={**env, "PATH": os.environ.get("PATH", "")}, stdout=self._out,
                                        stderr=subprocess.STDOUT)
        wait_ready(self.port)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._out.close()


class Console:
    """One signed-in browser (a context of its own) on the console of `base`."""

    def __init__(self, browser: Any, base: str, *, locale: str = "en-GB", width: int = 1280) -> None:
        self.base = base
        self.outside: list[str] = []  # what any page asked for elsewhere: must stay empty
        self.urls: list[str] = []  # every URL the browser asked for (no patient reference in any)
        self.context = browser.new_context(base_url=base, locale=locale, accept_downloads=True,
                                           viewport={"width": width, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.urls.append(url)
        if url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def sign_in(self, key: str) -> None:
        self.page.goto("/console/sign-in")
        self.page.fill("#api_key", key)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.base}/console/")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)

    def accessible(self, name: str) -> None:
        """axe-core on the page as it stands: no serious or critical violation (WCAG 2 A/AA rules and best
        practices); the page is screenshotted on the way."""
        self.shot(name)
        self.page.evaluate(AXE)
        result = self.page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']}))"
                                    ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help, "
                                    "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
        serious = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not serious, f"{name}: {serious}"

    def close(self) -> None:
        self.context.close()
