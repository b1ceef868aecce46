"""Every write endpoint, given bad input, answers 4xx with a message that says what is wrong,
and the database is exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.review_support import db_state, first_with_boxes, first_without_boxes
from wildloop.web.middleware import MAX_BODY_BYTES

BOX = {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "class": "doe"}


def cases(media_id: int, empty_id: int) -> list[tuple[str, str, str, Any, int, str]]:
    """(name, method, url, body, status, words the message must contain)."""
    actions = f"/api/v1/media/{media_id}/actions"
    labels = f"/api/v1/media/{media_id}/labels"
    return [
        (
            "unknown class in action",
            "POST",
            actions,
            {"action": "set_class", "class": "elk", "expected_revision": 0},
            400,
            "unknown class 'elk'",
        ),
        (
            "unknown class in box",
            "PUT",
            labels,
            {"expected_revision": 0, "boxes": [{**BOX, "class": "elk"}]},
            400,
            "unknown class",
        ),
        (
            "unknown class in batch",
            "POST",
            "/api/v1/batch",
            {"ids": [media_id], "action": "set_class", "class": "elk"},
            400,
            "unknown class",
        ),
        (
            "box outside the image",
            "PUT",
            labels,
            {"expected_revision": 0, "boxes": [{**BOX, "x": 0.9, "w": 0.5}]},
            400,
            "outside the image",
        ),
        (
            "box with no area",
            "PUT",
            labels,
            {"expected_revision": 0, "boxes": [{**BOX, "w": 0}]},
            400,
            "no area",
        ),
        (
            "negative box",
            "PUT",
            labels,
            {"expected_revision": 0, "boxes": [{**BOX, "x": -0.3}]},
            400,
            "outside the image",
        ),
        (
            "box without class",
            "PUT",
            labels,
            {"expected_revision": 0, "boxes": [{k: v for k, v in BOX.items() if k != "class"}]},
            400,
            "needs a class",
        ),
        (
            "empty item with an animal box",
            "PUT",
            labels,
            {"expected_revision": 0, "boxes": [BOX], "empty": True},
            400,
            "empty",
        ),
        (
            "prediction of another item",
            "PUT",
            labels,
            {"expected_revision": 0, "boxes": [{**BOX, "prediction_id": 999999}]},
            400,
            "do not belong",
        ),
        (
            "box index out of range",
            "POST",
            actions,
            {"action": "set_class", "class": "doe", "box": 40, "expected_revision": 0},
            400,
            "box 40 does not exist",
        ),
        ("set_class without class", "POST", actions, {"action": "set_class"}, 400, "needs a class"),
        ("invalid without reason", "POST", actions, {"action": "invalid"}, 400, "needs a reason"),
        (
            "unknown invalid reason",
            "POST",
            actions,
            {"action": "invalid", "reason": "blurry"},
            422,
            "reason",
        ),
        ("unknown action", "POST", actions, {"action": "explode"}, 422, "action"),
        ("unknown field", "POST", actions, {"action": "accept", "colour": "red"}, 422, "colour"),
        (
            "wrong type",
            "POST",
            actions,
            {"action": "accept", "expected_revision": "new"},
            422,
            "expected_revision",
        ),
        (
            "class on an item with no box",
            "POST",
            f"/api/v1/media/{empty_id}/actions",
            {"action": "set_class", "class": "doe", "expected_revision": 0},
            400,
            "no box",
        ),
        ("undo with nothing to undo", "POST", actions, {"action": "undo"}, 400, "no labels"),
        (
            "unknown media",
            "POST",
            "/api/v1/media/999999/actions",
            {"action": "accept"},
            404,
            "does not exist",
        ),
        (
            "batch with ids and filter",
            "POST",
            "/api/v1/batch",
            {"ids": [media_id], "filter": {"camera": "cam01"}, "action": "accept"},
            400,
            "either",
        ),
        (
            "batch with an unknown filter",
            "POST",
            "/api/v1/batch",
            {"filter": {"colour": "red"}, "action": "accept"},
            400,
            "unknown filter parameter",
        ),
        (
            "batch with undo",
            "POST",
            "/api/v1/batch",
            {"ids": [media_id], "action": "undo"},
            422,
            "action",
        ),
        (
            "batch too large",
            "POST",
            "/api/v1/batch",
            {"ids": list(range(1, 2100)), "action": "accept"},
            422,
            "2000",
        ),
        (
            "user with a bad name",
            "POST",
            "/api/v1/users",
            {"username": "no spaces please", "password": "long enough"},
            400,
            "username",
        ),
        (
            "user with an unknown role",
            "POST",
            "/api/v1/users",
            {"username": "neo", "role": "emperor", "password": "long enough"},
            422,
            "role",
        ),
        ("token without a name", "POST", "/api/v1/tokens", {"name": "  "}, 400, "name"),
    ]


ENDPOINTS = [
    ("POST", "/api/v1/media/{id}/actions"),
    ("PUT", "/api/v1/media/{id}/labels"),
    ("POST", "/api/v1/batch"),
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/rita"),
    ("POST", "/api/v1/tokens"),
]


@pytest.mark.parametrize("index", range(26))
def test_bad_input_is_refused_and_changes_nothing(app_client, review_setup, index):
    client = app_client("ada")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    empty_id = first_without_boxes(review_setup.project, review_setup.model_id)
    name, method, url, body, status, words = cases(media_id, empty_id)[index]
    before = db_state(review_setup.project)
    response = client.request(method, url, json=body)
    assert response.status_code == status, (name, response.text)
    error = response.json()["error"]
    assert words in error["message"], (name, error)
    assert error["status"] == status
    assert db_state(review_setup.project) == before, name


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_malformed_json_is_refused(app_client, review_setup, method, url):
    client = app_client("ada")
    before = db_state(review_setup.project)
    response = client.request(
        method,
        url.format(id=first_with_boxes(review_setup.project, review_setup.model_id)),
        content=b'{"action": "accept", ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.json()["error"]["message"]
    assert db_state(review_setup.project) == before


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_oversized_payload_is_refused(app_client, review_setup, method, url):
    client = app_client("ada")
    before = db_state(review_setup.project)
    huge = b'{"note": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    response = client.request(
        method,
        url.format(id=first_with_boxes(review_setup.project, review_setup.model_id)),
        content=huge,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["error"]["message"]
    assert db_state(review_setup.project) == before


def test_oversized_streamed_payload_is_refused(app_client, review_setup):
    """A body without Content-Length is counted while it streams in."""
    client = app_client("ada")
    before = db_state(review_setup.project)

    def chunks():
        for _ in range(20):
            yield b"x" * 100_000

    response = client.post(
        "/api/v1/batch", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert db_state(review_setup.project) == before


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("class=elk", "unknown class 'elk'"),
        ("min_score=2", "between 0 and 1"),
        ("min_score=0.8&max_score=0.2", "above max_score"),
        ("reviewed=maybe", "yes, no or any"),
        ("sort=colour", "unknown sort"),
        ("from=yesterday", "must be a date"),
        ("camera=nowhere", "unknown camera"),
        ("cursor=bm9wZQ", "cursor"),
        ("limit=100000", "limit"),
        ("colour=red", "unknown filter parameter"),
    ],
)
def test_bad_grid_filters_say_what_is_wrong(app_client, review_setup, query, words):
    client = app_client("rita")
    response = client.get(f"/api/v1/media?{query}")
    assert 400 <= response.status_code < 500
    assert words in response.json()["error"]["message"]
    if not query.startswith("limit"):  # the page has a fixed page size
        page = client.get(f"/grid?{query}", headers={"Accept": "text/html"})
        assert 400 <= page.status_code < 500 and words.split("'")[0] in page.text
