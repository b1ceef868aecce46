"""A model's classes must be the project's: refused, mapped (--map) or added (--add-classes),
and the mapping stored with the version is what every reader of its predictions uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import DEER_CLASSES
from tests.support.engine import ingest_dir
from wildloop.cli.app import app
from wildloop.domain.class_mapping import ClassMapping
from wildloop.errors import BadInput
from wildloop.evaluation.promotion import make_first_champion, promote_challenger
from wildloop.interchange import megadetector
from wildloop.jobs.local import run_job
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.store.tables import ModelVersion, Prediction, PredictionSet
from wildloop.synthetic.scenes import Frame

runner = CliRunner()


def _versions(project: Project) -> int:
    with project.db.session() as session:
        return session.scalar(select(func.count(ModelVersion.id))) or 0


def test_register_refuses_model_classes_the_project_lacks(
    make_project: Callable[..., Project], untrained_onnx: Path
) -> None:
    project = make_project(["buck", "doe", "fawn", "elk"])
    with pytest.raises(BadInput) as refused:
        register_model(project, untrained_onnx, "foreign")
    message = str(refused.value)
    assert "classes the project does not have: cattle, pig, raccoon" in message
    assert "project classes the model untrained.onnx lacks: elk" in message
    assert "--map 'theirs=ours'" in message and "--add-classes" in message
    assert _versions(project) == 0
    assert not list((project.root / "artifacts").rglob("*.onnx"))  # nothing stored
    assert project.classes.names == ["buck", "doe", "fawn", "elk"]

    # A --map that names a class the model does not have is a typo, not a mapping.
    with pytest.raises(BadInput, match="does not have: moose"):
        register_model(project, untrained_onnx, "typo", mapping=ClassMapping({"moose": "elk"}))
    assert _versions(project) == 0


def test_add_classes_gives_the_project_the_model_classes(
    make_project: Callable[..., Project], untrained_onnx: Path
) -> None:
    project = make_project(["doe", "buck"])
    version = register_model(project, untrained_onnx, "v1", mapping=ClassMapping(add_classes=True))
    assert project.classes.names == ["doe", "buck", "fawn", "cattle", "pig", "raccoon"]
    with Project.open(project.root) as reopened:  # written to wildloop.toml
        assert reopened.classes.names == project.classes.names
    assert version.class_ids == [project.classes.id_of(n) for n in DEER_CLASSES]


@pytest.mark.xdist_group("trained-detector")
def test_mapped_predictions_land_on_project_classes_everywhere(
    make_project: Callable[..., Project],
    scenes: Callable[..., list[Frame]],
    trained_pt: Path,
    tmp_path: Path,
) -> None:
    # Project ids differ from model indices, and three model classes read as one.
    project = make_project(["raccoon", "pig", "deer", "cattle"])
    scenes(bursts=3, seed=1)
    ingest_dir(project, tmp_path / "scenes")
    mapping = ClassMapping({"buck": "deer", "doe": "deer", "fawn": "deer"})
    version = register_model(project, trained_pt, "mapped", imgsz=160, mapping=mapping)
    deer = project.classes.id_of("deer")
    assert version.class_ids == [deer, deer, deer, 3, 1, 0]
    with project.db.session() as session:
        make_first_champion(session, version.id, None, classes=project.classes)
    assert run_job(project, submit_process(project).job_id)["state"] == "succeeded"

    with project.db.session() as session:
        rows = session.execute(select(Prediction.class_name, Prediction.class_id)).all()
        tops = set(session.scalars(select(PredictionSet.top_class_id)))
    assert rows, "the trained detector finds animals in these scenes"
    assert {name for name, _ in rows} & {"buck", "doe", "fawn"}
    for name, class_id in rows:  # processing (and so evaluation, which reads class_id)
        assert class_id == project.classes.id_of(mapping.target(name)), name
    assert tops - {None} <= {c.id for c in project.classes}

    with project.db.session() as session:  # MegaDetector export names project classes
        exported = megadetector.export(session, "mapped", classes=project.classes)
    categories = exported["detection_categories"]
    assert list(categories.values()) == ["deer", "deer", "deer", "cattle", "pig", "raccoon"]


def test_promotion_refuses_a_version_whose_classes_are_not_the_projects(
    project: Project,
) -> None:
    with project.db.session() as session:
        legacy = ModelVersion(
            name="legacy", source="trained", classes=["buck", "moose"], params={}, metrics={}
        )
        session.add(legacy)
        session.flush()
        with pytest.raises(BadInput, match="model 'legacy' uses classes the project does not"):
            make_first_champion(session, legacy.id, None, classes=project.classes)
    with pytest.raises(BadInput, match=r"does not have: moose\. Project classes: buck"):
        promote_challenger(project, "legacy", reprocess=False, figures=False)


def test_cli_register_refuses_then_maps(
    make_project: Callable[..., Project], untrained_onnx: Path
) -> None:
    project = make_project(["buck", "doe", "fawn", "elk"])
    p = ["--project", str(project.root)]
    refused = runner.invoke(app, ["model", "register", str(untrained_onnx), "--name", "x", *p])
    assert isinstance(refused.exception, BadInput)  # exit code 2 from the real entry point
    assert "does not have: cattle, pig, raccoon" in str(refused.exception)
    maps = ["--map", "cattle=buck", "--map", "pig=doe", "--map", "raccoon=fawn"]
    done = runner.invoke(
        app, ["model", "register", str(untrained_onnx), "--name", "x", *maps, "--json", *p]
    )
    assert done.exit_code == 0, done.output
    assert "never predicts these project classes: elk" in done.stderr
    shown = json.loads(done.stdout)
    assert shown["class_ids"] == [0, 1, 2, 0, 1, 2]
