"""Burst linking through the product: generated bursts ingested and labelled, tracks
compared with the animals that made them, and a confirmed box carrying its track."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from tests.support.review import add_users, ingest_frames, logged_in_clients
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.tracks import link_tracks
from wildloop.individuals.bursts import burst_boxes
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import LabelBox, Media, Sighting
from wildloop.synthetic.scenes import Frame
from wildloop.web.app import create_app


def _labelled_bursts(
    project: Project, tmp_path: Path, scenes: Callable[..., list[Frame]]
) -> dict[int, tuple[str, int]]:
    """Ingest and label generated bursts; each label box id -> (burst, animal of the burst)."""
    frames = scenes(bursts=24, seed=3)
    items = ingest_frames(project, tmp_path / "scenes", frames)
    author = project.author("labeller")
    truth: dict[int, tuple[str, int]] = {}
    with project.db.session() as session:
        for item in items:
            animals = item.frame.animals
            labels = LabelSet(
                boxes=tuple(
                    LabelBoxValue(a.box, project.classes.id_of(a.class_name)) for a in animals
                ),
                empty=not animals,
            )
            revision = save_labels(
                session,
                item.media_id,
                labels,
                author_id=author,
                classes=project.classes,
                expected_revision=None,
            )
            session.flush()
            ids = session.scalars(
                select(LabelBox.id).where(LabelBox.revision_id == revision.id).order_by(LabelBox.id)
            ).all()
            for box_id, animal in zip(ids, animals, strict=True):
                truth[box_id] = (item.frame.sequence_key, animal.walker)
    return truth


def test_tracks_follow_the_generated_animals(
    project: Project, tmp_path: Path, scenes: Callable[..., list[Frame]]
) -> None:
    truth = _labelled_bursts(project, tmp_path, scenes)
    with project.db.session() as session:
        sequences = set(session.scalars(select(Media.sequence_id).distinct())) - {None}
        found = [
            sorted(t)
            for seq in sequences
            if seq is not None
            for t in link_tracks(burst_boxes(session, seq))
        ]
    animals: dict[tuple[str, int], list[int]] = defaultdict(list)
    for box_id, animal in truth.items():
        animals[animal].append(box_id)
    expected = sorted(sorted(boxes) for boxes in animals.values())
    right = sum(1 for track in found if track in expected)
    print(f"burst linking: {right}/{len(expected)} animals tracked exactly")
    assert len(expected) >= 15
    assert right / len(expected) >= 0.9
    assert sorted(found) == expected  # these scenes have no occlusion: every track exact


def test_confirming_a_box_suggests_or_assigns_its_track(
    project: Project, tmp_path: Path, scenes: Callable[..., list[Frame]]
) -> None:
    truth = _labelled_bursts(project, tmp_path, scenes)
    animals: dict[tuple[str, int], list[int]] = defaultdict(list)
    for box_id, animal in sorted(truth.items()):
        animals[animal].append(box_id)
    long_tracks = [boxes for boxes in animals.values() if len(boxes) >= 3]
    first, second = long_tracks[0], long_tracks[1]
    with project.db.session() as session:
        class_of = dict(session.execute(select(LabelBox.id, LabelBox.class_id)).all())
    add_users(project, {"rita": "reviewer"})
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        rita = client("rita")
        made = {}
        for boxes in (first, second):
            name = project.classes.name_of(class_of[boxes[0]])
            r = rita.post("/api/v1/individuals", json={"name": f"A{boxes[0]}", "class": name})
            assert r.status_code == 201, r.text
            made[boxes[0]] = r.json()["id"]
        r = rita.post(
            f"/api/v1/individuals/{made[first[0]]}/sightings",
            json={"label_box_id": first[1], "track": "suggest"},
        )
        assert r.status_code == 201, r.text
        assert len(r.json()["track_sightings"]) == len(first) - 1
        r = rita.post(
            f"/api/v1/individuals/{made[second[0]]}/sightings",
            json={"label_box_id": second[0], "track": "assign"},
        )
        assert r.status_code == 201, r.text
        none = rita.post(
            f"/api/v1/individuals/{made[second[0]]}/sightings",
            json={"label_box_id": first[0]},  # the default leaves the track alone
        )
        assert none.status_code == 409  # the first track's boxes are the first animal's
    with project.db.session() as session:
        rows = {
            box: (ind, source)
            for box, ind, source in session.execute(
                select(Sighting.label_box_id, Sighting.individual_id, Sighting.source)
            )
        }
    assert rows == {
        **{b: (made[first[0]], "person" if b == first[1] else "suggestion") for b in first},
        **dict.fromkeys(second, (made[second[0]], "person")),
    }
