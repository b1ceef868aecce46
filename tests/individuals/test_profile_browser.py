"""An individual's profile page reviewed by keyboard in headless Chromium: page through the
gallery, unassign a sighting and see it gone, undo it, pick the cover, move one away."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.individuals.scenes import labelled_photos
from tests.support.review import add_users
from tests.web.test_web_browser import browser, log_in, running, shot, tab
from wildloop.individuals.profiles import assign, create_individual
from wildloop.project import Project
from wildloop.store.tables import AuditEntry, Individual, Media, Sighting
from wildloop.synthetic.coats import Coat
from wildloop.users.roles import Actor, Role

pytestmark = [pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser"]

STRIPES = Coat(6, ((230, 230, 230), (20, 20, 20)), vertical=True)
PHOTOS = 14


def _profile(project: Project, tmp_path: Path) -> tuple[int, int, list[int]]:
    """An individual with PHOTOS sightings a day apart, another of its class; their ids and
    the first one's label boxes in gallery order."""
    boxes = labelled_photos(project, tmp_path / "photos", [("buck", STRIPES)], PHOTOS)[0]
    add_users(project, {"rita": "reviewer"})
    rita = Actor(project.author("rita"), "rita", Role.REVIEWER)
    classes = project.classes
    with project.db.session() as s:
        ind = create_individual(s, rita, name="Stripes", class_name="buck", classes=classes).id
        other = create_individual(s, rita, name="Other", class_name="buck", classes=classes).id
        for box in boxes:
            assign(s, rita, ind, box, classes=classes)
        media = s.scalars(select(Sighting.media_id).order_by(Sighting.id)).all()
        for n, media_id in enumerate(media):
            s.execute(
                update(Media)
                .where(Media.id == media_id)
                .values(captured_at=datetime(2024, 5, 1, 6) + timedelta(days=n))
            )
    return ind, other, boxes


def _position(page: Any, text: str) -> None:
    page.wait_for_function(f"document.getElementById('position').textContent.startsWith({text!r})")


def _tiles(page: Any, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('#gallery .tile').length === {n}")


def _day(page: Any, day: str) -> int | None:
    """The timeline bar's count for ``day`` (from its tooltip), None when it has no bar."""
    titles = page.locator("#timeline svg rect title").all_text_contents()
    found = [int(t.split(": ")[1]) for t in titles if t.startswith(f"{day}: ")]
    return found[0] if found else None


def _timeline(page: Any, day: str, count: int) -> None:
    page.wait_for_function(
        "([day, n]) => [...document.querySelectorAll('#timeline svg rect title')]"
        ".some((t) => t.textContent === `${day}: ${n}`)",
        arg=[day, count],
    )


def test_profile_reviewed_by_keyboard(browser: Any, project: Project, tmp_path: Path) -> None:
    ind, other, boxes = _profile(project, tmp_path)
    with running(project) as url, tab(browser, url) as page:
        log_in(page, "rita", f"/individuals/{ind}")
        assert page.locator("#timeline svg rect").count() == PHOTOS  # one bar a day
        _position(page, f"1 of {PHOTOS}")
        for key, where in (("j", 2), ("ArrowRight", 3), ("PageDown", PHOTOS), ("PageUp", 2)):
            page.keyboard.press(key)
            _position(page, f"{where} of {PHOTOS}")
        page.keyboard.press("k")
        page.keyboard.press("j")
        _position(page, f"2 of {PHOTOS}")
        with project.db.session() as s:
            second = s.scalar(select(Sighting.id).where(Sighting.label_box_id == boxes[1]))
        assert _day(page, "2024-05-02") == 1
        page.keyboard.press("u")
        _tiles(page, PHOTOS - 1)
        assert page.locator(f'#gallery .tile[data-sighting="{second}"]').count() == 0
        # The server-drawn timeline is fetched again: the unassigned day's bar is now empty.
        _timeline(page, "2024-05-02", 0)
        assert page.locator("#timeline svg rect").count() == PHOTOS
        shot(page, "profile-unassigned")
        with project.db.session() as s:
            assert s.get(Sighting, second) is None
            actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
            assert actions[-1] == "individual.unassign"
        page.keyboard.press("z")
        _tiles(page, PHOTOS)
        _timeline(page, "2024-05-02", 1)
        with project.db.session() as s:
            back = s.scalar(select(Sighting).where(Sighting.label_box_id == boxes[1]))
            assert back is not None and back.individual_id == ind and back.source == "person"
        page.keyboard.press("End")
        _position(page, f"{PHOTOS} of {PHOTOS}")
        page.keyboard.press("c")
        page.wait_for_selector("#gallery .tile.cover.focus")
        page.keyboard.press("Home")
        page.keyboard.press("m")
        page.wait_for_selector("#moveform:not([hidden])")
        page.keyboard.press("Enter")
        _tiles(page, PHOTOS - 1)
        # The first day's sighting moved away: the timeline starts a day later.
        page.wait_for_function(
            f"document.querySelectorAll('#timeline svg rect').length === {PHOTOS - 1}"
        )
        assert _day(page, "2024-05-01") is None
    with project.db.session() as s:
        row = s.get_one(Individual, ind)
        last = s.scalar(select(Sighting.id).where(Sighting.label_box_id == boxes[-1]))
        assert row.cover_sighting_id == last
        moved = s.scalar(select(Sighting).where(Sighting.label_box_id == boxes[0]))
        assert moved is not None and moved.individual_id == other
