from __future__ import annotations


def test_smoke(app_client, review_setup):
    c = app_client("rita")
    r = c.get("/api/v1/media")
    assert r.status_code == 200, r.text
    data = r.json()
    print(data["items"][:2])
    first = data["items"][0]["id"]
    d = c.get(f"/api/v1/media/{first}")
    assert d.status_code == 200, d.text
    print(d.json())
    a = c.post(f"/api/v1/media/{first}/actions", json={"action": "accept", "expected_revision": 0})
    print(a.status_code, a.text)
    for page in ("/", "/grid", f"/media/{first}", "/marked", "/account", "/grid/tiles"):
        p = c.get(page)
        assert p.status_code == 200, (page, p.text[:2000])
    t = c.get(f"/files/{first}/thumb")
    assert t.status_code == 200 and t.headers["content-type"] == "image/jpeg"
