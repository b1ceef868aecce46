"""Who may do what: logins, roles, CSRF on cookie sessions, API tokens, user admin, CLI."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.review import PASSWORD, csrf_of, db_state, first_with_boxes, login
from wildloop.cli.app import app as cli
from wildloop.store.tables import ApiToken


def write_requests(media_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """One valid request for every write endpoint."""
    return [
        ("POST", f"/api/v1/media/{media_id}/actions", {"action": "accept", "expected_revision": 0}),
        ("POST", f"/api/v1/media/{media_id}/actions", {"action": "mark", "kind": "missed"}),
        (
            "PUT",
            f"/api/v1/media/{media_id}/labels",
            {
                "expected_revision": 0,
                "boxes": [{"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "class": "doe"}],
            },
        ),
        ("POST", "/api/v1/batch", {"ids": [media_id], "action": "empty"}),
        ("POST", "/api/v1/users", {"username": "newbie", "role": "reviewer", "password": "x" * 12}),
        ("PATCH", "/api/v1/users/rita", {"role": "viewer"}),
    ]


def test_anonymous_requests_are_refused(app_client, review_setup):
    client = app_client(None)
    response = client.get("/api/v1/media")
    assert response.status_code == 401
    assert "log in" in response.json()["error"]["message"]
    page = client.get("/grid?class=doe", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/grid%3Fclass%3Ddoe"
    assert client.get("/files/1/thumb").status_code == 401


def test_wrong_password_and_disabled_accounts_cannot_log_in(app_client, review_setup):
    client = app_client(None)
    token = csrf_of(client.get("/login").text)
    bad = client.post("/login", data={"username": "rita", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "wrong username or password" in bad.text
    admin = app_client("ada")
    assert admin.patch("/api/v1/users/rita", json={"disabled": True}).status_code == 200
    with pytest.raises(AssertionError):
        login(app_client(None), "rita")


def test_login_form_needs_its_csrf_token(app_client, review_setup):
    client = app_client(None)
    client.get("/login")
    response = client.post("/login", data={"username": "rita", "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.parametrize("index", range(6))
def test_a_viewer_cannot_write(app_client, review_setup, index):
    client = app_client("vic")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    method, url, body = write_requests(media_id)[index]
    before = db_state(review_setup.project)
    response = client.request(method, url, json=body)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["type"] == "PermissionDenied"
    assert db_state(review_setup.project) == before
    assert client.get(f"/api/v1/media/{media_id}").status_code == 200  # reading is fine


@pytest.mark.parametrize("index", range(6))
def test_a_write_without_the_csrf_token_is_refused(app_client, review_setup, index):
    client = app_client("ada")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    method, url, body = write_requests(media_id)[index]
    token = client.headers.pop("X-CSRF-Token")
    before = db_state(review_setup.project)
    missing = client.request(method, url, json=body)
    wrong = client.request(method, url, json=body, headers={"X-CSRF-Token": "forged"})
    for response in (missing, wrong):
        assert response.status_code == 403, response.text
        assert "CSRF" in response.json()["error"]["message"]
    assert db_state(review_setup.project) == before
    ok = client.request(method, url, json=body, headers={"X-CSRF-Token": token})
    assert ok.status_code in (200, 201), ok.text


def test_api_tokens_work_without_cookies_and_are_stored_hashed(app_client, review_setup):
    owner = app_client("rita")
    created = owner.post("/api/v1/tokens", json={"name": "nightly script"})
    assert created.status_code == 201, created.text
    plain = created.json()["token"]
    script = app_client(None)
    auth = {"Authorization": f"Bearer {plain}"}
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    assert script.get("/api/v1/me", headers=auth).json()["username"] == "rita"
    write = script.post(
        f"/api/v1/media/{media_id}/actions", json={"action": "accept"}, headers=auth
    )
    assert write.status_code == 200, write.text  # no CSRF needed: no cookie involved
    with review_setup.project.db.session() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hashlib.sha256(plain.encode()).hexdigest()] and plain not in stored
    token_id = created.json()["id"]
    assert owner.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    assert script.get("/api/v1/me", headers=auth).status_code == 401
    assert (
        script.get("/api/v1/me", headers={"Authorization": "Bearer wl_made_up"}).status_code == 401
    )
    assert script.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_viewer_token_still_cannot_write(app_client, review_setup):
    viewer = app_client("vic")
    plain = viewer.post("/api/v1/tokens", json={"name": "read only"}).json()["token"]
    response = app_client(None).post(
        "/api/v1/batch",
        json={"ids": [1], "action": "accept"},
        headers={"Authorization": f"Bearer {plain}"},
    )
    assert response.status_code == 403


def test_admins_manage_users_and_keep_one_admin(app_client, review_setup):
    admin = app_client("ada")
    made = admin.post(
        "/api/v1/users", json={"username": "nina", "role": "viewer", "password": "long enough"}
    )
    assert made.status_code == 201 and made.json()["role"] == "viewer"
    login(app_client(None), "nina", "long enough")
    duplicate = admin.post(
        "/api/v1/users", json={"username": "nina", "role": "viewer", "password": "long enough"}
    )
    assert duplicate.status_code == 409
    short = admin.post("/api/v1/users", json={"username": "x", "password": "short"})
    assert short.status_code == 400 and "at least 8" in short.json()["error"]["message"]
    last = admin.patch("/api/v1/users/ada", json={"role": "reviewer"})
    assert last.status_code == 409 and "last active admin" in last.json()["error"]["message"]
    reviewer = app_client("rita")
    assert reviewer.get("/api/v1/users").status_code == 403
    assert (
        reviewer.patch("/api/v1/users/rita", json={"password": "a new password"}).status_code == 200
    )
    login(app_client(None), "rita", "a new password")
    assert reviewer.get("/admin/users", headers={"Accept": "text/html"}).status_code == 403
    assert admin.get("/admin/users").status_code == 200


def test_logout_ends_the_session(app_client, review_setup):
    client = app_client("rita")
    token = client.headers["X-CSRF-Token"]
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("role", ["admin", "uploader"])
def test_first_admin_and_tokens_from_the_cli(review_setup, role):
    """The first admin; a field device's account (uploader) is made the same way."""
    root = str(review_setup.project.root)
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["user", "add", "boss", "--role", role, "--password-stdin", "-p", root],
        input="a strong password\n",
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["user", "list", "--json", "-p", root])
    assert '"username": "boss"' in listed.output and f'"role": "{role}"' in listed.output
    token = runner.invoke(cli, ["token", "create", "backup", "--user", "boss", "-p", root])
    assert token.exit_code == 0 and token.output.startswith("wl_")
    refused = runner.invoke(
        cli,
        ["user", "add", "x", "--role", "emperor", "--password-stdin", "-p", root],
        input="a strong password\n",
    )
    assert refused.exit_code != 0
