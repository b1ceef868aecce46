"""The CLI and the JSON API over the individuals services: the same refusals, one flow."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.individuals.scenes import labelled_photos, relabel
from tests.support.review import add_users, logged_in_clients
from wildloop.cli.app import app
from wildloop.errors import BadInput
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.synthetic.coats import Coat
from wildloop.web.app import create_app

STRIPES = Coat(6, ((230, 230, 230), (20, 20, 20)), vertical=True)
SPOTS = Coat(14, ((200, 120, 30), (40, 20, 10)), vertical=False)


def test_cli_flow_from_create_to_check(project: Project, tmp_path: Path) -> None:
    boxes = labelled_photos(
        project, tmp_path / "photos", [("buck", STRIPES), ("buck", SPOTS), ("doe", SPOTS)], 2
    )
    runner = CliRunner()
    root = ["--project", str(project.root)]

    def cli(*args: str) -> str:
        result = runner.invoke(app, ["individuals", *args, *root])
        assert result.exit_code == 0, result.output
        return result.stdout

    def refusal(*args: str) -> str:
        """The error `main` would print (the runner calls the app, not ``main``)."""
        result = runner.invoke(app, ["individuals", *args, *root])
        assert isinstance(result.exception, BadInput), result.output
        return str(result.exception)

    stripes = json.loads(cli("create", "Stripes", "--class", "buck", "--json"))[0]["id"]
    spots = json.loads(cli("create", "Spots", "--class", "buck", "--json"))[0]["id"]
    cli("assign", str(stripes), "--box", str(boxes[0][0]))
    cli("assign", str(spots), "--box", str(boxes[1][0]))
    refused = refusal("assign", str(spots), "--box", str(boxes[2][0]))
    assert "only an individual of its class" in refused
    assert "individuals embed" in refusal("suggest", "--box", str(boxes[0][1]))
    assert json.loads(cli("embed", "--json"))["state"] == "succeeded"
    found = json.loads(cli("suggest", "--box", str(boxes[1][1]), "--json"))
    assert [f["individual_id"] for f in found] == [spots, stripes]
    relabel(project, boxes[0][0], "doe")
    problems = json.loads(cli("check", "--json"))["contradictory_classes"]
    assert [p["individual_id"] for p in problems] == [stripes]
    listed = {i["name"]: i["sightings"] for i in json.loads(cli("list", "--json"))}
    assert listed == {"Stripes": 1, "Spots": 1}
    assert "1 sightings moved" in cli("merge", str(stripes), str(spots), "--as", "remy")
    assert [i["sightings"] for i in json.loads(cli("list", "--json"))] == [2]


def test_api_flow_with_roles(project: Project, tmp_path: Path) -> None:
    boxes = labelled_photos(project, tmp_path / "photos", [("buck", STRIPES), ("buck", SPOTS)], 2)
    add_users(project, {"ada": "admin", "rita": "reviewer", "vic": "viewer"})
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        rita, vic = client("rita"), client("vic")
        v1 = "/api/v1"
        made = rita.post(f"{v1}/individuals", json={"name": "Stripes", "class": "buck"})
        assert made.status_code == 201, made.text
        ind = made.json()["id"]
        denied = vic.post(f"{v1}/individuals/{ind}/sightings", json={"label_box_id": boxes[0][0]})
        assert denied.status_code == 403
        sighting = rita.post(
            f"{v1}/individuals/{ind}/sightings", json={"label_box_id": boxes[0][0]}
        )
        assert sighting.status_code == 201, sighting.text
        stale = rita.patch(f"{v1}/individuals/{ind}", json={"version": 1, "notes": "x"})
        assert stale.status_code == 409 and "reload" in stale.json()["error"]["message"]
        job = rita.post(f"{v1}/individuals/embed")
        assert job.status_code == 202
        assert run_job(project, job.json()["job_id"])["state"] == "succeeded"
        found = vic.get(f"{v1}/label-boxes/{boxes[0][1]}/suggestions").json()
        assert [f["individual_id"] for f in found] == [ind]
        assert vic.get(f"{v1}/checks/individuals").json()["contradictory_classes"] == []
        detail = vic.get(f"{v1}/individuals/{ind}").json()
        assert [s["label_box_id"] for s in detail["sightings"]] == [boxes[0][0]]
        page = vic.get(f"/individuals/{ind}")
        assert page.status_code == 200 and "Stripes" in page.text
        assert f'href="/media/{detail["sightings"][0]["media_id"]}"' in page.text
        assert "Stripes" in vic.get("/individuals").text
        assert client(None).get(f"/individuals/{ind}").status_code in (303, 401)
        gone = rita.delete(f"{v1}/sightings/{detail['sightings'][0]['sighting_id']}")
        assert gone.status_code == 200
        assert vic.get(f"{v1}/individuals").json()[0]["sightings"] == 0
