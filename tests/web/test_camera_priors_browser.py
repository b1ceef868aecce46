"""The location priors editor in headless Chromium: an admin ticks a camera's classes and a
roll-up and saves; a viewer sees them read-only. Screenshot: test-artifacts/cameras.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_web_browser import ARTIFACTS, browser, log_in, page, server  # noqa: F401
from wildloop.media.camera_priors import list_priors

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_an_admin_edits_a_cameras_allow_list(page: Any, review_setup: Any) -> None:  # noqa: F811
    log_in(page, "ada", "/cameras")
    assert page.locator("nav a.active").inner_text() == "Cameras"
    row = page.locator('#priors tr[data-camera="cam01"]')
    row.locator('input[value="buck"]').check()
    row.locator('input[value="fawn"]').check()
    row.locator('select[name="rollup"]').select_option("doe")
    row.locator("button.save").click()
    page.locator("#toast").filter(has_text="Saved cam01: buck, fawn").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cameras.png"), full_page=True)
    with review_setup.project.db.session() as session:
        stored = {p["camera"]: p for p in list_priors(session)}
    assert stored["cam01"] == {"camera": "cam01", "allowed": ["buck", "fawn"], "rollup": "doe"}
    page.reload()
    assert row.locator('input[value="fawn"]').is_checked()
    assert not row.locator('input[value="doe"]').is_checked()
    row.locator('input[value="buck"]').uncheck()
    row.locator('input[value="fawn"]').uncheck()
    row.locator("button.save").click()
    page.locator("#toast").filter(has_text="Refused:").wait_for()  # a roll-up needs a list
