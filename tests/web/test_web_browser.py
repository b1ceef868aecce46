"""The review UI in headless Chromium over real HTTP (Uvicorn in a thread): keyboard-only
review, boxes drawn and edited with the mouse, a batch edit from the grid, and screenshots
of the dashboard, grid and review screen saved under test-artifacts/."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select, update

from tests.support.review import PASSWORD, first_with_boxes, first_without_boxes
from wildloop.evaluation.compare_job import KIND as COMPARE
from wildloop.jobs.local import LocalExecutor
from wildloop.review.labels import current_labels
from wildloop.store.tables import Camera, Job, JobChunk, Media, PredictionSet
from wildloop.store.types import utcnow
from wildloop.web.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(review_setup: Any) -> Iterator[str]:
    with running(review_setup.project) as url:
        yield url


@contextmanager
def running(project: Any) -> Iterator[str]:
    """The app on a free port, served by Uvicorn in a thread, with the comparison worker
    `wildloop serve` runs (other jobs stay queued: no test here waits for a training)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(project, secret="browser-test")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    executor = LocalExecutor(project, workers=0, lanes=(COMPARE,))
    executor.start()
    try:
        deadline = time.monotonic() + 20
        while not uv.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(10)
        executor.stop()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    with tab(browser, server) as opened:
        yield opened


@contextmanager
def tab(browser: Any, base: str) -> Iterator[Any]:
    """A fresh browser context; any script error on its pages fails the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.base = base
    yield opened
    context.close()
    assert not errors, errors


def log_in(page: Any, name: str, target: str) -> None:
    page.goto(f"{page.base}/login?next={target}")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{page.base}{target.split('?')[0]}*")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def state(project: Any, media_id: int) -> tuple[Any, Any]:
    with project.db.session() as session:
        media = session.get(Media, media_id)
        return current_labels(session, media_id), (media.reviewed, media.marked)


def test_review_five_images_with_the_keyboard_only(page, review_setup):
    project = review_setup.project
    ids = review_setup.ids()
    with project.db.session() as session:
        counts = dict(session.execute(select(PredictionSet.media_id, PredictionSet.count)).all())
    # Actions that need boxes go to items the model found something in.
    box_keys, empty_keys, plan = ["Enter", "2", "w"], ["e", "m"], []
    for media_id in ids[:5]:
        queue = box_keys if counts[media_id] else empty_keys
        plan.append(queue.pop(0) if queue else ("Enter" if counts[media_id] else "e"))
    assert sorted(plan) == sorted(["Enter", "2", "w", "e", "m"]), plan
    log_in(page, "rita", f"/media/{ids[0]}?reviewed=no")
    page.wait_for_selector("#boxes li")
    shot(page, "review-detail")
    for i, key in enumerate(plan):
        page.keyboard.press(key)
        page.wait_for_function(f"document.getElementById('title').textContent === '#{ids[i + 1]}'")
        assert page.url.endswith(f"/media/{ids[i + 1]}?reviewed=no")
    for media_id, key in zip(ids, plan, strict=False):
        labels, (reviewed, marked) = state(project, media_id)
        if key == "Enter":
            assert reviewed and labels is not None and labels.boxes
        elif key == "2":
            assert {b.class_id for b in labels.boxes} == {1}  # doe
        elif key == "w":
            assert all(b.invalid_reason == "wrong_species" for b in labels.boxes)
        elif key == "e":
            assert labels.empty
        else:
            assert (reviewed, marked) == (False, "missed")
    marked_id = ids[plan.index("m")]
    last = ids[4]
    # z undoes the last action; "." repeats it on the item shown and moves on.
    page.keyboard.press("z")
    page.wait_for_function("document.getElementById('toast').textContent === 'undone'")
    assert page.url.endswith(f"/media/{last}?reviewed=no")
    undone_key = plan[4]
    page.keyboard.press(".")
    page.wait_for_function(f"document.getElementById('title').textContent === '#{ids[5]}'")
    redone, (_, marked) = state(project, last)
    if undone_key == "m":
        assert marked == "missed"
    else:
        assert redone is not None
    assert state(project, marked_id)[1][1] == "missed"
    shot(page, "review-after-keyboard")


def test_draw_move_resize_and_delete_boxes_with_the_mouse(page, review_setup):
    project = review_setup.project
    media_id = first_without_boxes(project, review_setup.model_id)
    log_in(page, "rita", f"/media/{media_id}")
    page.wait_for_function("document.getElementById('stage').offsetWidth > 100")
    stage = page.locator("#stage").bounding_box()
    w, h = stage["width"], stage["height"]

    def drag(x0: float, y0: float, x1: float, y1: float) -> None:
        page.mouse.move(stage["x"] + x0 * w, stage["y"] + y0 * h)
        page.mouse.down()
        page.mouse.move(stage["x"] + (x0 + x1) / 2 * w, stage["y"] + (y0 + y1) / 2 * h, steps=3)
        page.mouse.move(stage["x"] + x1 * w, stage["y"] + y1 * h, steps=3)
        page.mouse.up()

    drag(0.10, 0.20, 0.30, 0.50)  # box 1, selected once drawn
    page.keyboard.press("3")  # fawn for the selected box (an edit, not saved yet)
    drag(0.60, 0.60, 0.70, 0.70)  # box 2 takes the last class used: fawn
    drag(0.20, 0.35, 0.25, 0.40)  # move box 1 right and down by 0.05
    page.locator("#boxes li[data-i='1']").click()
    drag(0.70, 0.70, 0.80, 0.75)  # resize box 2 by its bottom-right corner
    drag(0.40, 0.05, 0.55, 0.15)  # box 3 ...
    page.keyboard.press("Delete")  # ... deleted again
    shot(page, "review-boxes-drawn")
    assert page.locator("#boxes li").count() == 2
    page.keyboard.press("Escape")
    page.keyboard.press("s")  # save without moving on
    page.wait_for_function("document.getElementById('state').textContent.includes('rev 1')")
    labels, (reviewed, _) = state(project, media_id)
    assert reviewed and labels is not None and not labels.empty
    first, second = sorted(labels.boxes, key=lambda b: b.box.x)
    assert (first.class_id, second.class_id) == (2, 2) and first.missed and second.missed
    assert (first.box.x, first.box.y, first.box.w, first.box.h) == pytest.approx(
        (0.15, 0.25, 0.20, 0.30), abs=0.01
    )
    assert (second.box.x, second.box.y, second.box.w, second.box.h) == pytest.approx(
        (0.60, 0.60, 0.20, 0.15), abs=0.01
    )


def test_batch_edit_a_selection_in_the_grid(page, review_setup):
    project = review_setup.project
    log_in(page, "ada", "/grid")
    page.wait_for_selector(".tile")
    shot(page, "grid")
    tiles = page.locator(".tile")
    ids = [int(tiles.nth(i).get_attribute("data-id")) for i in range(6)]
    tiles.nth(0).click(modifiers=["Control"])
    tiles.nth(3).click(modifiers=["Shift"])  # range: tiles 0..3
    tiles.nth(5).click(modifiers=["Control"])  # and tile 5
    assert page.locator(".tile.selected").count() == 5
    shot(page, "grid-selection")
    page.keyboard.press("6")  # raccoon for the whole selection
    page.wait_for_selector("#toast:not([hidden])")
    chosen = [*ids[:4], ids[5]]
    with project.db.session() as session:
        rows = dict(
            session.execute(select(Media.id, Media.reviewed).where(Media.id.in_(chosen))).all()
        )
    toast = page.locator("#toast").text_content() or ""
    applied = [i for i in chosen if rows[i]]
    assert f"applied to {len(applied)}" in toast
    for media_id in applied:
        labels, _ = state(project, media_id)
        assert labels is not None
        assert {b.class_id for b in labels.boxes if not b.false_positive} <= {5}
    assert not rows.get(ids[4], False)
    # Everything in a filter: mark every cam02 item as a missed detection.
    page.goto(f"{page.base}/grid?camera=cam02")
    page.wait_for_selector(".tile")
    page.click("#selall")
    page.keyboard.press("m")
    page.wait_for_selector("#toast:not([hidden])")
    with project.db.session() as session:
        marks = session.scalars(
            select(Media.marked)
            .join(Camera, Camera.id == Media.camera_id)
            .where(Camera.name == "cam02")
        ).all()
    assert marks and set(marks) == {"missed"}


def test_dashboard_and_viewer_screens(page, review_setup):
    project = review_setup.project
    media_id = first_with_boxes(project, review_setup.model_id)
    with project.db.session() as session:  # a reprocess another (live) worker is running
        job = Job(kind="predict", state="running", progress_done=250, progress_total=1000)
        session.add(job)
        session.flush()
        session.add(
            JobChunk(
                job_id=job.id,
                seq=0,
                payload={},
                state="running",
                claimed_by="gpu-box:1",
                heartbeat_at=utcnow(),
            )
        )
    log_in(page, "vic", "/")
    page.wait_for_selector(".cards")
    with project.db.session() as session:
        session.execute(
            update(Job).values(progress_done=600, rate=41.5, eta_seconds=9.6, message="chunk 6/10")
        )
    page.wait_for_function("document.getElementById('jobs').textContent.includes('60%')")
    shot(page, "dashboard")
    page.goto(f"{page.base}/media/{media_id}")
    page.wait_for_selector("#boxes li")
    page.keyboard.press("Enter")
    page.wait_for_selector("#toast:not([hidden])")
    assert "read-only" in (page.locator("#toast").text_content() or "")
    assert state(review_setup.project, media_id)[0] is None
    page.keyboard.press("+")
    assert page.locator("#zoomval").text_content() == "125%"


def test_review_screen_on_a_real_photo(browser, real_project):
    project, _root = real_project
    with running(project) as url, tab(browser, url) as page:
        log_in(page, "rita", "/grid")
        page.wait_for_selector(".tile img")
        page.wait_for_function(
            "[...document.querySelectorAll('.tile img')].every((i) => i.complete && i.naturalWidth)"
        )
        shot(page, "grid-real-photos")
        page.keyboard.press("Enter")  # opens the focused (first) tile
        page.wait_for_selector("#boxes li")
        page.wait_for_function("document.getElementById('photo').naturalWidth > 0")
        assert "Great_Tinamou" in (page.locator("#boxes").text_content() or "")
        shot(page, "review-real-photo")
        page.keyboard.press("Enter")  # accept and move on
        page.wait_for_function("document.getElementById('title').textContent === '#2'")
        page.keyboard.press("c")  # 20 classes: pick one by name
        page.keyboard.type("paca")
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('title').textContent === '#3'")
    with project.db.session() as session:
        assert session.get(Media, 1).reviewed
        picked = current_labels(session, 2)
    assert picked is not None
    assert {project.classes.name_of(b.class_id) for b in picked.boxes} == {"Paca"}
