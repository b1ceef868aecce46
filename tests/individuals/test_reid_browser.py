"""Confirming re-ID suggestions on the review screen by number key, in headless Chromium:
stored suggestions (the real embed and suggest jobs over generated coats) listed 1..k,
a number confirms or moves the box, n makes a new individual, Esc gives the keys back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.individuals.scenes import labelled_photos
from tests.support.review import add_users
from tests.web.test_web_browser import browser, log_in, running, shot, tab
from wildloop.individuals.embed_job import submit_label_embedding
from wildloop.individuals.profiles import assign, create_individual
from wildloop.individuals.suggest_job import submit_suggestions
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import Individual, LabelRevision, Media, Sighting
from wildloop.synthetic.coats import Coat
from wildloop.users.roles import Actor, Role

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser"]

STRIPES = Coat(6, ((230, 230, 230), (20, 20, 20)), vertical=True)
SPOTS = Coat(14, ((200, 120, 30), (40, 20, 10)), vertical=False)


def _media_of(project: Project, label_box_id: int) -> tuple[int, int]:
    """The media id and label revision of a label box."""
    with project.db.session() as s:
        sighting_media = s.execute(
            select(Media.id, Media.label_revision)
            .join(LabelRevision, LabelRevision.media_id == Media.id)
            .join(Sighting, Sighting.media_id == Media.id)
            .where(Sighting.label_box_id == label_box_id)
        ).one()
    return int(sighting_media[0]), int(sighting_media[1])


def _owner(project: Project, label_box_id: int) -> tuple[str, str]:
    with project.db.session() as s:
        name, source = s.execute(
            select(Individual.name, Sighting.source)
            .join(Sighting, Sighting.individual_id == Individual.id)
            .where(Sighting.label_box_id == label_box_id)
        ).one()
    return str(name), str(source)


def test_confirm_suggestions_with_number_keys(
    browser: Any, project: Project, tmp_path: Path
) -> None:
    boxes = labelled_photos(project, tmp_path / "photos", [("buck", STRIPES), ("buck", SPOTS)], 4)
    add_users(project, {"rita": "reviewer"})
    rita = Actor(project.author("rita"), "rita", Role.REVIEWER)
    with project.db.session() as s:
        for name, animal in (("Stripes", 0), ("Spots", 1)):
            made = create_individual(s, rita, name=name, class_name="buck", classes=project.classes)
            assign(s, rita, made.id, boxes[animal][0], classes=project.classes)
    embed = submit_label_embedding(project, created_by=rita.id)
    assert run_job(project, embed)["state"] == "succeeded"
    assert run_job(project, submit_suggestions(project, 0.0, rita.id))["state"] == "succeeded"
    assert _owner(project, boxes[0][1]) == ("Stripes", "suggestion")
    with running(project) as url, tab(browser, url) as page:
        media, revision = _media_of(project, boxes[0][1])
        log_in(page, "rita", f"/media/{media}")
        page.wait_for_selector("#reidlist li[data-reid='2']")
        assert "Stripes" in page.inner_text("#reidlist li[data-reid='1']")
        shot(page, "review-reid")
        page.keyboard.press("1")  # the suggested individual: confirmed, not class 1
        page.wait_for_function(
            "document.getElementById('reidboxes').textContent.includes('Stripes')"
        )
        page.wait_for_function(
            "!document.getElementById('reidboxes').textContent.includes('suggested')"
        )
        assert _owner(project, boxes[0][1]) == ("Stripes", "person")

        media, revision = _media_of(project, boxes[0][2])
        page.goto(f"{page.base}/media/{media}")
        page.wait_for_selector("#reidlist li[data-reid='2']")
        assert "Spots" in page.inner_text("#reidlist li[data-reid='2']")
        page.keyboard.press("2")  # another than suggested: the box moves there
        page.wait_for_function("document.getElementById('reidboxes').textContent.includes('Spots')")
        assert _owner(project, boxes[0][2]) == ("Spots", "person")

        media, revision = _media_of(project, boxes[1][1])
        page.goto(f"{page.base}/media/{media}")
        page.wait_for_selector("#reidlist li[data-reid='1']")
        page.once("dialog", lambda dialog: dialog.accept("Newcomer"))
        page.keyboard.press("n")  # a new individual from the box, not a note
        page.wait_for_function(
            "document.getElementById('reidboxes').textContent.includes('Newcomer')"
        )
        assert _owner(project, boxes[1][1]) == ("Newcomer", "person")
        page.keyboard.press("i")  # arm the panel for the (only) box again
        page.wait_for_selector("#reidlist li[data-reid='1']")
        page.keyboard.press("Escape")  # the number keys are the class keys again
        page.wait_for_selector("#reidlist li[data-reid]", state="detached")
        with project.db.session() as s:
            assert s.get_one(Media, media).label_revision == revision  # no label changed
        page.keyboard.press("2")  # now a class key: the box becomes a doe, on to the next
        page.wait_for_function(f"document.getElementById('title').textContent !== '#{media}'")
    with project.db.session() as s:
        assert s.get_one(Media, media).label_revision == revision + 1
