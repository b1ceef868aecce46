"""The re-ID embedder card on the Individuals page, driven by an admin in headless
Chromium: a worse projection refused by the gate, then promoted with a reason, a better one
promoted by the gate, then a roll back to the baseline. Each action queues a job; the card
follows it and redraws from the API. Real retrieval figures, a real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.individuals.test_reid_embedder import (
    _confirmed,
    _register_projection,
    _register_worse,
)
from tests.support.review import add_users
from tests.web.test_web_browser import browser, log_in, running, shot, tab
from wildloop.individuals.projection import REID_ALIAS, confirmed_sightings
from wildloop.inference.crops import DEFAULT_KEY
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.registry import aliases

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser"]


def _run_queued(page: Any, project: Project, last: int) -> int:
    """Wait for the card to queue a job after ``last``, run it here (the test server's
    worker runs comparisons only), and return its id."""
    page.wait_for_function(f"+(document.getElementById('reid').dataset.job || 0) > {last}")
    job_id = int(page.evaluate("document.getElementById('reid').dataset.job"))
    assert run_job(project, job_id)["state"] == "succeeded"
    return job_id


def _serving(page: Any, text: str) -> None:
    page.wait_for_function(
        f"document.getElementById('reid-serving').textContent.includes({text!r})"
    )


def test_the_admin_chooses_the_embedder_on_the_individuals_page(
    browser: Any, project: Project, tmp_path: Path
) -> None:
    _confirmed(project, tmp_path)
    add_users(project, {"ada": "admin"})
    worse = _register_worse(project, tmp_path)
    with project.db.session() as s:
        dim = confirmed_sightings(s, DEFAULT_KEY).matrix.shape[1]
    better = _register_projection(project, tmp_path, "identity", np.eye(dim))
    with running(project) as url, tab(browser, url) as page:
        log_in(page, "ada", "/individuals")
        _serving(page, "crop vectors")
        assert page.locator("#reid-candidates tbody tr").count() == 3  # baseline + two
        # The gate refuses the worse one: the card shows the refusal and its figures.
        page.click(f'button[data-promote="{worse}"]')
        job = _run_queued(page, project, 0)
        row = page.locator(f'#reid-candidates tr[data-model="{worse}"]')
        page.wait_for_function(
            f"document.querySelector('#reid-candidates tr[data-model=\"{worse}\"] td:nth-child(6)')"
            ".textContent === 'refuse'"
        )
        assert "crop vectors" in row.locator("td:nth-child(5)").inner_text()
        _serving(page, "crop vectors")
        # With a reason it is promoted anyway (an audited override).
        page.fill("#reid-reason", "field test of a weak embedder")
        page.click(f'button[data-promote="{worse}"]')
        job = _run_queued(page, project, job)
        _serving(page, "random-2d")
        # The identity beats it: promoted by the gate, no reason needed.
        page.fill("#reid-reason", "")
        page.click(f'button[data-promote="{better}"]')
        job = _run_queued(page, project, job)
        _serving(page, "identity")
        decision = page.locator(f'#reid-candidates tr[data-model="{better}"] td:nth-child(6)')
        assert decision.inner_text() == "pass"
        shot(page, "reid-embedder-card")
        with project.db.session() as s:
            assert aliases.resolve(s, REID_ALIAS) == better
        # Roll back: the baseline serves at once, a job re-scores the suggestions.
        page.click("#reid-rollback")
        _run_queued(page, project, job)
        _serving(page, "crop vectors")
        page.wait_for_selector("#reid-rollback[disabled]")
    with project.db.session() as s:
        assert aliases.resolve(s, REID_ALIAS) is None
