"""Location priors over HTTP: anyone signed in reads them, only admins change them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_admins_set_priors_others_read_them(app_client: Callable[..., TestClient]) -> None:
    ada, rita = app_client("ada"), app_client("rita")
    url = "/api/v1/cameras/cam01/priors"
    assert app_client(None).get("/api/v1/cameras/priors").status_code == 401
    refused = rita.put(url, json={"allowed": ["buck"]})
    assert refused.status_code == 403
    stored = ada.put(url, json={"allowed": ["buck", "Fawn"], "rollup": "doe"})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"camera": "cam01", "allowed": ["buck", "fawn"], "rollup": "doe"}
    listed = {p["camera"]: p for p in rita.get("/api/v1/cameras/priors").json()}
    assert listed["cam01"]["allowed"] == ["buck", "fawn"] and listed["cam02"]["allowed"] is None
    assert ada.put(url, json={"allowed": None}).json()["allowed"] is None


def test_the_editor_page_is_read_only_for_viewers(app_client: Callable[..., TestClient]) -> None:
    ada, vic = app_client("ada"), app_client("vic")
    ada.put("/api/v1/cameras/cam01/priors", json={"allowed": ["buck"], "rollup": "doe"})
    admin_page, viewer_page = ada.get("/cameras"), vic.get("/cameras")
    assert admin_page.status_code == viewer_page.status_code == 200
    assert 'data-camera="cam01"' in admin_page.text and "button" in admin_page.text
    assert 'class="save"' not in viewer_page.text and "<td>buck</td>" in viewer_page.text
