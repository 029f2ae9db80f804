"""A real browser for the report tests: Debian's Chromium (`apt-get install chromium`) driven by Playwright's Python
package; nothing is downloaded at test time. Where either is missing the test is skipped with the reason, unless
VIDSEG_REQUIRE_BROWSER is set (CI sets it, as it requires Slurm): then it fails."""

import os
import shutil
from contextlib import contextmanager

import pytest

REQUIRE = "VIDSEG_REQUIRE_BROWSER"


def unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE):
        pytest.fail(f"{reason}; {REQUIRE} is set, so this test must run")
    pytest.skip(reason)


@contextmanager
def chromium():
    """A headless Chromium (Playwright `Browser`)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright's Python package is not installed (pip install playwright)")
    path = os.environ.get("VIDSEG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        unavailable("no Chromium on PATH (Debian/Ubuntu: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            browser.close()
