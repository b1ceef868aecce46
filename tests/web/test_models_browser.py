"""The Models page in headless Chromium over real HTTP: the comparison arrives by itself,
an admin promotes the challenger through the gate, and a second training is refused in
plain words. Screenshots go to test-artifacts/models*.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.models_page import ModelsSetup, another_model
from tests.web.test_web_browser import ARTIFACTS, browser, log_in, running, tab  # noqa: F401
from wildloop.registry import aliases

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_admin_sees_the_comparison_and_promotes(
    browser: Any,  # noqa: F811 (the imported fixture)
    better_challenger: ModelsSetup,
) -> None:
    setup = better_challenger
    with running(setup.project) as base, tab(browser, base) as page:
        log_in(page, "ada", "/models")
        assert page.locator("nav a.active").inner_text() == "Models"
        verdict = page.locator("#verdict")
        verdict.wait_for(timeout=60_000)  # computed in the background, then swapped in
        assert "would promote" in verdict.inner_text()
        overall = page.locator("#overall").inner_text()
        assert "mAP50-95" in overall and "[+" in overall
        assert page.locator("#classes .delta.up").count() > 0
        figures = page.locator(".figures img")
        assert figures.count() == 5
        # The new evaluations refresh the registry and the log, with the chart.
        page.locator("img.chart").wait_for()
        page.wait_for_function(
            "[...document.querySelectorAll('.figures img, img.chart')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        assert "not evaluated" not in page.locator("#registry").inner_text()
        shot(page, "models")

        page.click("#train-now")
        page.locator("#action-result").filter(has_text="Training queued").wait_for()
        page.locator("#live-jobs .job").filter(has_text="train").wait_for()
        page.click("#train-now")
        refused = page.locator("#action-result").filter(has_text="already in progress")
        refused.wait_for()
        assert refused.inner_text().startswith("Refused:")

        page.click("#promote")
        page.locator("#flash").filter(has_text="v2 is now champion").wait_for(timeout=60_000)
        assert setup.champion_now() == setup.challenger
        row = page.locator(f'#registry tr[data-version="{setup.challenger}"]')
        assert "champion" in row.locator(".badge").all_inner_texts()
        assert "Rollback champion to v1" in page.locator("#rollback-form button").inner_text()
        shot(page, "models-promoted")

        # The old champion as challenger again: the gate refuses, and the page says why.
        with setup.project.db.session() as session:
            aliases.move_alias(session, "challenger", setup.champion, None, "test")
        page.reload()
        page.locator("#verdict").filter(has_text="would refuse").wait_for(timeout=60_000)
        page.click("#promote")
        refusal = page.locator("#action-result #refusal li")
        refusal.first.wait_for(timeout=60_000)
        assert "does not beat the champion" in refusal.first.inner_text()
        assert setup.champion_now() == setup.challenger
        shot(page, "models-refused")

        # Someone else promotes a third version while this comparison is on screen: the
        # promotion is bound to it, so it is refused rather than replacing v3 unseen.
        v3 = another_model(setup, "v3", seed=3)
        with setup.project.db.session() as session:
            aliases.move_alias(session, "champion", v3, None, "promoted elsewhere")
        page.click("#promote")
        changed = page.locator("#action-result").filter(has_text="champion changed")
        changed.wait_for(timeout=60_000)
        assert changed.inner_text().startswith("Refused:")
        assert setup.champion_now() == v3
