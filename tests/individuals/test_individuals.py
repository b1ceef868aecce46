"""Individuals on a real database: assignments audited and checked, re-ID suggestions from
the real crop embedder over generated coats, and the contradictory-class check."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.individuals.scenes import labelled_photos, relabel
from wildloop.errors import BadInput, Conflict, PermissionDenied
from wildloop.individuals.checks import (
    all_checks,
    contradictory_classes,
    impossible_travel,
    split_straddles,
)
from wildloop.individuals.embed_job import submit_label_embedding
from wildloop.individuals.profiles import (
    assign,
    create_individual,
    edit_individual,
    individual_detail,
    list_individuals,
    merge,
    split,
    unassign,
)
from wildloop.individuals.reid import suggest
from wildloop.individuals.suggest_job import submit_suggestions
from wildloop.inference.crops import DEFAULT_KEY
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import AuditEntry, Camera, LabelCropEmbedding, Media, Sighting
from wildloop.synthetic.coats import Coat
from wildloop.users.roles import Actor, Role

STRIPES = Coat(6, ((230, 230, 230), (20, 20, 20)), vertical=True)
SPOTS = Coat(14, ((200, 120, 30), (40, 20, 10)), vertical=False)
BARS = Coat(3, ((30, 160, 60), (240, 240, 40)), vertical=False)


def _people(project: Project) -> tuple[Actor, Actor]:
    reviewer = Actor(project.author("rita"), "rita", Role.REVIEWER)
    viewer = Actor(project.author("vic"), "vic", Role.VIEWER)
    return reviewer, viewer


def test_assign_merge_unassign_are_checked_and_audited(project: Project, tmp_path: Path) -> None:
    boxes = labelled_photos(
        project, tmp_path / "photos", [("buck", STRIPES), ("buck", SPOTS), ("doe", BARS)], 2
    )
    rita, vic = _people(project)
    classes = project.classes
    with project.db.session() as s:
        a = create_individual(s, rita, name="Old Stripes", class_name="buck", classes=classes).id
        b = create_individual(s, rita, name="Spotty", class_name="buck", classes=classes).id
        d = create_individual(s, rita, name="Bar", class_name="doe", classes=classes).id
        with pytest.raises(Conflict, match="exists already"):
            create_individual(s, rita, name="Spotty", class_name="buck", classes=classes)
        with pytest.raises(BadInput, match="unknown class"):
            create_individual(s, rita, name="X", class_name="unicorn", classes=classes)
        with pytest.raises(PermissionDenied):
            create_individual(s, vic, name="Y", class_name="buck", classes=classes)
    with project.db.session() as s:
        first = assign(s, rita, a, boxes[0][0], classes=classes).id
        assign(s, rita, a, boxes[0][1], classes=classes)
        assign(s, rita, b, boxes[1][0], classes=classes, source="suggestion", score=0.8)
        assign(s, rita, d, boxes[2][0], classes=classes)
        # A doe's box never joins a buck; a box belongs to one individual at a time.
        with pytest.raises(BadInput, match="only an individual of its class"):
            assign(s, rita, a, boxes[2][1], classes=classes)
        with pytest.raises(Conflict, match="sighting of individual"):
            assign(s, rita, b, boxes[0][0], classes=classes)
        # Two people editing from the same version: the second one is told to reload.
        version = individual_detail(s, a, classes)["version"]
        edit_individual(s, rita, a, classes=classes, expected_version=version, notes="scar")
        with pytest.raises(Conflict, match="reload"):
            edit_individual(s, rita, a, classes=classes, expected_version=version, notes="x")
        edit_individual(s, rita, a, classes=classes, expected_version=None, cover_sighting_id=first)
        with pytest.raises(BadInput, match="is not one of"):
            edit_individual(
                s, rita, b, classes=classes, expected_version=None, cover_sighting_id=first
            )
    with project.db.session() as s:
        # Confirming the suggestion turns it into a person's sighting.
        confirmed = assign(s, rita, b, boxes[1][0], classes=classes)
        assert confirmed.source == "person"
        with pytest.raises(BadInput, match="different classes"):
            merge(s, rita, a, d)
        assert merge(s, rita, a, b) == 1
        with pytest.raises(BadInput, match="was merged into"):
            assign(s, rita, b, boxes[1][1], classes=classes)
    with project.db.session() as s:
        listed = {i["name"]: i for i in list_individuals(s, classes)}
        assert set(listed) == {"Old Stripes", "Bar"}
        assert listed["Old Stripes"]["sightings"] == 3 and listed["Old Stripes"]["notes"] == "scar"
        assert listed["Old Stripes"]["cover_sighting_id"] == first
        unassign(s, rita, first)
        detail = individual_detail(s, a, classes)
        assert len(detail["sightings"]) == 2 and detail["cover_sighting_id"] is None
        # Splitting the merged sighting back off makes a new individual of the same class.
        moved = [x["sighting_id"] for x in detail["sightings"] if x["label_box_id"] == boxes[1][0]]
        with pytest.raises(BadInput, match="are not individual"):
            split(s, rita, d, moved, name="Nope", classes=classes)
        again = split(s, rita, a, moved, name="Spotty II", classes=classes)
        assert again.class_id == classes.id_of("buck")
        assert [
            x["sighting_id"] for x in individual_detail(s, again.id, classes)["sightings"]
        ] == moved
        detail = individual_detail(s, a, classes)
        with pytest.raises(PermissionDenied):
            unassign(s, vic, detail["sightings"][0]["sighting_id"])
        actions = dict(
            s.execute(
                select(AuditEntry.action, func.count())
                .where(AuditEntry.entity == "individual")
                .group_by(AuditEntry.action)
            ).all()
        )
    assert actions == {
        "individual.create": 3,
        "individual.assign": 4,
        "individual.edit": 2,
        "individual.confirm": 1,
        "individual.merge": 1,
        "individual.unassign": 1,
        "individual.split": 1,
    }


def test_suggestions_rank_the_same_animal_first_within_its_class(
    project: Project, tmp_path: Path
) -> None:
    # Bar the doe wears Old Stripes' coat: the nearest gallery crop is a buck's, and must
    # never be offered for a doe's box.
    animals = [("buck", STRIPES), ("buck", SPOTS), ("buck", BARS), ("doe", STRIPES)]
    boxes = labelled_photos(project, tmp_path / "photos", animals, 3, seed=1)
    rita, _ = _people(project)
    classes = project.classes
    names = ["Old Stripes", "Spotty", "Bars", "Doe Stripes"]
    with project.db.session() as s:
        ids = [
            create_individual(s, rita, name=n, class_name=c, classes=classes).id
            for n, (c, _) in zip(names, animals, strict=True)
        ]
        for individual, animal_boxes in zip(ids, boxes.values(), strict=True):
            for box in animal_boxes[:2]:
                assign(s, rita, individual, box, classes=classes)
        with pytest.raises(BadInput, match="individuals embed"):
            suggest(s, DEFAULT_KEY, boxes[0][2])
    status = run_job(project, submit_label_embedding(project))
    assert status["state"] == "succeeded", status
    assert status["result"]["label_boxes_embedded"] == 12
    with project.db.session() as s:
        for a in range(3):
            found = suggest(s, DEFAULT_KEY, boxes[a][2], k=5)
            assert [c.individual_id for c in found][:1] == [ids[a]], found
            assert {c.individual_id for c in found} == set(ids[:3])
            assert found[0].similarity > found[-1].similarity
        doe = suggest(s, DEFAULT_KEY, boxes[3][2], k=5)
        assert [c.individual_id for c in doe] == [ids[3]]
        # An assigned box is not offered its own individual again.
        assert ids[0] not in {c.individual_id for c in suggest(s, DEFAULT_KEY, boxes[0][0])}
        assert s.scalar(select(func.count()).select_from(LabelCropEmbedding)) == 12
    # Unassigned boxes get their best candidate as a suggestion, which a person confirms.
    rita_id = rita.id
    status = run_job(project, submit_suggestions(project, 0.5, created_by=rita_id))
    assert status["state"] == "succeeded", status
    assert status["result"]["pending_suggestions"] == 4
    with project.db.session() as s:
        suggested = {
            box: who
            for box, who, source in s.execute(
                select(Sighting.label_box_id, Sighting.individual_id, Sighting.source)
            )
            if source == "suggestion"
        }
        assert suggested == {boxes[a][2]: ids[a] for a in range(4)}
        assert assign(s, rita, ids[0], boxes[0][2], classes=classes).source == "person"
    # Nothing left to embed: the next job has no chunks.
    assert run_job(project, submit_label_embedding(project))["result"] == {"note": "nothing to do"}


def test_contradiction_check_finds_a_relabelled_box(project: Project, tmp_path: Path) -> None:
    boxes = labelled_photos(project, tmp_path / "photos", [("buck", STRIPES)], 3)
    rita, _ = _people(project)
    classes = project.classes
    with project.db.session() as s:
        buck = create_individual(s, rita, name="Old Stripes", class_name="buck", classes=classes)
        sightings = [assign(s, rita, buck.id, b, classes=classes).id for b in boxes[0]]
        assert contradictory_classes(s, classes) == []
    relabel(project, boxes[0][1], "doe")
    with project.db.session() as s:
        found = contradictory_classes(s, classes)
        assert [f["name"] for f in found] == ["Old Stripes"]
        assert found[0]["contradicting"] == [
            {
                "sighting_id": sightings[1],
                "media_id": found[0]["contradicting"][0]["media_id"],
                "class_now": "doe",
            }
        ]
        unassign(s, rita, sightings[1])
    with project.db.session() as s:
        assert contradictory_classes(s, classes) == []


def test_travel_and_split_checks_find_planted_errors(project: Project, tmp_path: Path) -> None:
    boxes = labelled_photos(project, tmp_path / "photos", [("buck", STRIPES)], 3)
    rita, _ = _people(project)
    with project.db.session() as s:
        near = Camera(name="near", latitude=45.0, longitude=6.0)
        far = Camera(name="far", latitude=45.2, longitude=6.0)  # about 22 km north
        s.add_all([near, far])
        s.flush()
        buck = create_individual(s, rita, name="Roamer", class_name="buck", classes=project.classes)
        sightings = [assign(s, rita, buck.id, b, classes=project.classes) for b in boxes[0]]
        media = [x.media_id for x in sightings]
        # near at 06:00, far at 06:30 (44 km/h: impossible), near again at 12:00 (fine).
        for media_id, camera, hour, minute in zip(
            media, [near, far, near], [6, 6, 12], [0, 30, 0], strict=True
        ):
            s.execute(
                update(Media)
                .where(Media.id == media_id)
                .values(
                    camera_id=camera.id,
                    captured_at=datetime(2026, 5, 1, hour, minute),
                    split="train",
                )
            )
        assert split_straddles(s) == []
        s.execute(update(Media).where(Media.id == media[2]).values(split="test"))
        travel = impossible_travel(s)
        assert [t["sightings"] for t in travel] == [[sightings[0].id, sightings[1].id]]
        assert travel[0]["cameras"] == ["near", "far"] and 22 < travel[0]["km"] < 23
        assert impossible_travel(s, max_speed_kmh=50) == []
        straddles = split_straddles(s)
        assert [x["splits"] for x in straddles] == [
            {"train": [sightings[0].id, sightings[1].id], "test": [sightings[2].id]}
        ]
        assert set(all_checks(s, project.classes)) == {
            "contradictory_classes",
            "impossible_travel",
            "split_straddles",
        }
