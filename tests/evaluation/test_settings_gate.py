"""Priors and smoothing measured as changes of one model on the frozen test split's crops,
and changed only through the gate, which records its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from tests.support.loop import demo_champion
from wildloop.config import load_config
from wildloop.domain.location_priors import LocationPrior
from wildloop.errors import BadInput
from wildloop.evaluation.settings_gate import (
    DROPPED,
    OutputSettings,
    compare_settings,
    current_settings,
    gate_settings,
    name_crops,
    parse_settings,
)
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import AuditEntry, ModelVersion
from wildloop.training.classifier_job import start_classifier_training

OFF = OutputSettings("off", 0.1, False, 0.5)


def test_settings_are_parsed_over_the_current_ones_and_bad_ones_refused() -> None:
    got = parse_settings("priors=soft, factor=0.2,smoothing=on", OFF)
    assert got == OutputSettings("soft", 0.2, True, 0.5)
    assert parse_settings("weak=0.3", got) == OutputSettings("soft", 0.2, True, 0.3)
    for bad, words in [
        ("priors=maybe", "priors must be"),
        ("smoothing=yes", "on or off"),
        ("factor=2", "between 0 and 1"),
        ("weak=x", "between 0 and 1"),
        ("colour=red", "cannot read"),
    ]:
        with pytest.raises(BadInput, match=words):
            parse_settings(bad, OFF)


def test_crops_are_named_by_the_prior_then_smoothed_within_their_burst() -> None:
    columns = ["buck", "doe", "fox"]
    p = np.array(
        [
            [0.7, 0.2, 0.1],  # media 1 (burst 9): buck
            [0.6, 0.3, 0.1],  # media 2 (burst 9): buck
            [0.1, 0.35, 0.55],  # media 3 (burst 9): a weak fox
            [0.2, 0.1, 0.7],  # media 4 (no burst, camera allows buck only)
        ]
    )
    media = [1, 2, 3, 4]
    bursts = {1: 9, 2: 9, 3: 9}
    priors = {4: LocationPrior.of(["buck"])}
    assert name_crops(p, columns, media, priors, bursts, OFF) == ["buck", "buck", "fox", "fox"]
    smoothed = OutputSettings("off", 0.1, True, 0.6)
    assert name_crops(p, columns, media, priors, bursts, smoothed)[2] == "buck"
    soft = OutputSettings("soft", 0.1, False, 0.5)
    assert name_crops(p, columns, media, priors, bursts, soft)[3] == "buck"  # 0.2 > 0.07
    hard = OutputSettings("hard", 0.1, False, 0.5)
    assert name_crops(p, columns, media, priors, bursts, hard)[3] == DROPPED


@pytest.fixture
def pipeline(project: Project, scenes: Any, tmp_path: Path) -> tuple[Project, ModelVersion]:
    demo_champion(project, scenes(bursts=16, seed=3), tmp_path / "scenes")
    status = run_job(project, start_classifier_training(project).job_id)
    assert status["state"] == "succeeded", status
    with project.db.session() as session:
        found = session.scalar(select(ModelVersion).where(ModelVersion.task == "pipeline"))
        classifier = session.get_one(ModelVersion, found.classifier_id)  # type: ignore[union-attr]
        session.expunge_all()
    assert found is not None
    found.metrics = {"classifier_test": classifier.metrics["test"]}
    return project, found


def _verdicts(project: Project) -> list[str]:
    with project.db.session() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("settings.gate.%"))
                .order_by(AuditEntry.id)
            )
        )


@pytest.mark.slow
def test_the_gate_scores_both_settings_on_the_same_crops_and_records_its_verdict(
    pipeline: tuple[Project, ModelVersion],
) -> None:
    project, version = pipeline
    own = version.metrics["classifier_test"]
    with pytest.raises(BadInput, match="single detector"):
        compare_settings(project, OFF, model="demo-detector")
    with pytest.raises(BadInput, match="are the current ones"):
        compare_settings(project, current_settings(project), model=version.name)

    # No camera has an allow-list, so priors off changes nothing: the gate must refuse.
    same = compare_settings(project, OFF, model=version.name)
    current, proposed = same.as_dict()["current"], same.as_dict()["proposed"]
    # The current side is the classifier's own evaluation on the same test crops.
    assert (current["top1"], current["macro_f1"]) == (own["top1"], own["macro_f1"])
    assert (proposed["top1"], proposed["macro_f1"]) == (own["top1"], own["macro_f1"])
    assert same.interval is not None and same.interval.low == same.interval.high == 0
    assert not same.decision.promote
    refused = gate_settings(project, OFF, model=version.name)
    assert not refused["changed"] and load_config(project.root).priors.mode == "hard"

    # Smoothing every box: whatever the verdict, the config follows it and it is audited.
    every = parse_settings("smoothing=on,weak=1", current_settings(project))
    judged = gate_settings(project, every, model=version.name)
    assert judged["proposed"]["crops"] == own["crops"]
    assert judged["changed"] == judged["decision"]["promote"]
    assert load_config(project.root).smoothing.enabled == judged["changed"]
    last = "settings.gate.pass" if judged["changed"] else "settings.gate.refuse"
    assert _verdicts(project) == ["settings.gate.refuse", last]
