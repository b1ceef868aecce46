"""The audio review screen in headless Chromium over real HTTP: five windows reviewed by
keyboard with the spectrogram shown and the window played with a moving cursor, and a
time-frequency box drawn on the spectrogram and saved as a label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.audio.window_support import (  # noqa: F401 (audio_project is a fixture)
    RATE,
    AudioReview,
    audio_project,
    audio_review,
    write_recording,
)
from tests.support.review import add_users
from tests.web.test_web_browser import ARGS, CHROMIUM, log_in, running, shot, tab
from wildloop.audio.embed_job import submit_embed
from wildloop.audio.search import update_index
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.review.labels import current_labels
from wildloop.store.tables import Media

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, "--autoplay-policy=no-user-gesture-required"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def review(audio_project: Project, tmp_path: Path) -> AudioReview:  # noqa: F811
    project = audio_project
    setup = audio_review(project, tmp_path / "sounds")
    add_users(project, {"rita": "reviewer"})
    return setup


@pytest.fixture
def page(browser: Any, review: AudioReview) -> Iterator[Any]:
    with running(review.project) as url, tab(browser, url) as opened:
        yield opened


def _labels(project: Project, media_id: int) -> tuple[bool, list[tuple[Any, ...]], bool]:
    with project.db.session() as session:
        reviewed = session.get_one(Media, media_id).reviewed
        labels = current_labels(session, media_id)
    assert labels is not None
    names = project.classes
    boxes = [
        (
            names.name_of(b.class_id) if b.class_id is not None else None,
            b.span.has_band if b.span else None,
            b.false_positive,
        )
        for b in labels.boxes
    ]
    return reviewed, boxes, labels.empty


def test_review_five_windows_by_keyboard_with_spectrogram_and_playback(
    page: Any, review: AudioReview
) -> None:
    ids = [w.media_id for w in review.dawn]  # 5 windows of the dawn recording
    assert len(ids) == 5
    log_in(page, "rita", "/audio?reviewed=no")
    page.wait_for_function(
        "[...document.querySelectorAll('.wtile img')].every(i => i.complete && i.naturalWidth)"
    )
    shot(page, "audio-list")
    page.keyboard.press("Enter")  # open the focused (first) window
    page.wait_for_url(f"**/audio/{ids[0]}*")
    page.wait_for_function("document.getElementById('spectrogram').naturalWidth > 0")
    assert page.eval_on_selector("#spectrogram", "i => [i.naturalWidth, i.naturalHeight]") == [
        900,
        256,
    ]
    assert "/clip" in page.eval_on_selector("#player", "a => a.src")
    assert page.is_visible("#legend")

    page.keyboard.press("p")
    page.wait_for_function(
        "(() => { const a = document.getElementById('player');"
        " return !a.paused && a.currentTime > 0.3; })()",
        timeout=15_000,
    )
    first_left = page.eval_on_selector("#cursor", "c => parseFloat(c.style.left)")
    page.wait_for_timeout(400)
    later_left = page.eval_on_selector("#cursor", "c => parseFloat(c.style.left)")
    assert later_left > first_left > 0, (first_left, later_left)
    assert page.get_attribute("#review", "data-played") == "1"
    shot(page, "audio-review")
    page.keyboard.press("p")  # pause before moving on

    # accept (wren + frog), owl for the whole window, nothing, wren, accept (nothing shown)
    following = [*ids[1:], review.night[0].media_id]  # the filter goes on to the night
    for i, key in enumerate(["Enter", "2", "e", "1", "Enter"]):
        page.wait_for_url(f"**/audio/{ids[i]}*")
        page.wait_for_function(
            f"document.getElementById('title').textContent.startsWith('#{ids[i]} ')"
        )
        page.keyboard.press(key)
        page.wait_for_url(f"**/audio/{following[i]}*")

    project = review.project
    assert _labels(project, ids[0]) == (
        True,
        [("wren", False, False), ("frog", False, False)],
        False,
    )
    # owl for the whole window; the model's wren and frog are recorded as false positives
    assert _labels(project, ids[1]) == (
        True,
        [("owl", False, False), (None, False, True), (None, False, True)],
        False,
    )
    assert _labels(project, ids[2]) == (True, [], True)
    assert _labels(project, ids[3]) == (True, [("wren", False, False)], False)
    assert _labels(project, ids[4]) == (True, [], True)

    page.keyboard.press("z")  # undo the last save: back to that window, unreviewed again
    page.wait_for_url(f"**/audio/{ids[4]}*")
    page.wait_for_function("document.getElementById('state').textContent === 'unreviewed'")
    with project.db.session() as session:
        assert not session.get_one(Media, ids[4]).reviewed


def test_draw_a_time_frequency_box_on_the_spectrogram(page: Any, review: AudioReview) -> None:
    window = review.night[2]  # 3..6 s: the owl at 4..5 s, 500 Hz
    log_in(page, "rita", f"/audio/{window.media_id}")
    page.wait_for_function("document.getElementById('spectrogram').naturalWidth > 0")
    spec = page.locator("#specbox").bounding_box()
    view_start, view_end = window.t_start - 3.0, window.t_end + 3.0

    def x(t: float) -> float:
        return spec["x"] + spec["width"] * (t - view_start) / (view_end - view_start)

    def y(f: float) -> float:
        return spec["y"] + spec["height"] * (1 - f / (RATE / 2))

    page.mouse.move(x(4.0), y(1500))
    page.mouse.down()
    page.mouse.move(x(4.5), y(800), steps=4)
    page.mouse.move(x(5.0), y(200), steps=4)
    page.mouse.up()
    page.wait_for_selector(".tf.sel")
    page.keyboard.press("2")  # owl for the selected box
    page.keyboard.press("s")
    page.wait_for_function("document.getElementById('state').textContent.includes('✓ reviewed')")
    with review.project.db.session() as session:
        labels = current_labels(session, window.media_id)
    assert labels is not None
    drawn = [b for b in labels.boxes if b.span is not None and b.span.has_band]
    assert len(drawn) == 1
    span = drawn[0].span
    assert span is not None and span.f_low is not None and span.f_high is not None
    assert review.project.classes.name_of(drawn[0].class_id or 0) == "owl"
    assert abs(span.t_start - 4.0) < 0.1 and abs(span.t_end - 5.0) < 0.1
    assert abs(span.f_low - 200) < 80 and abs(span.f_high - 1500) < 80
    shot(page, "audio-box")


def test_batch_edit_windows_from_the_list_by_keyboard(page: Any, review: AudioReview) -> None:
    night = [w.media_id for w in review.night]
    log_in(page, "rita", "/audio?camera=wood")
    page.wait_for_selector(".wtile")
    page.keyboard.press(" ")  # select the first window
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")  # and the second
    page.wait_for_selector("#batchbar:not([hidden])")
    assert page.inner_text("#selcount") == "2 selected"
    page.keyboard.press("3")  # frog for both
    page.wait_for_selector("#batchbar[hidden]", state="attached")
    page.wait_for_function("document.querySelectorAll('.wtile.reviewed').length === 2")
    for media_id in night[:2]:
        reviewed, boxes, empty = _labels(review.project, media_id)
        assert reviewed and not empty
        assert boxes[0] == ("frog", False, False)
    with review.project.db.session() as session:
        untouched = session.get_one(Media, night[2])
        assert not untouched.reviewed


def test_search_by_an_uploaded_clip(page: Any, review: AudioReview, tmp_path: Path) -> None:
    submitted = submit_embed(review.project)
    assert run_job(review.project, submitted.job_id)["state"] == "succeeded"
    update_index(review.project)
    owl = write_recording(tmp_path / "owl.wav", 3.0, [(0.5, 1.5, 500.0)])
    log_in(page, "rita", "/audio/search")
    page.set_input_files("#clip-file", str(owl))
    page.fill("#clip-k", "3")
    page.click("#clip-search button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#clip-results .wtile').length === 3")
    first = page.eval_on_selector("#clip-results .wtile", "a => a.getAttribute('href')")
    hoots = {w.media_id for w in review.night if w.t_start <= 4.5 < w.t_end}
    assert int(first.rsplit("/", 1)[1]) in hoots
    assert "owl.wav" in page.inner_text("#clip-status")
    shot(page, "audio-clip-search")
