"""The gate for re-ID embedders: a projection replaces the current one only if it retrieves
the frozen test individuals better.

Both are scored in one call on the same sightings (the test individuals' confirmed ones,
``individuals.projection``) by the same retrieval code: top-1 is the gate's metric, top-1
per class its per-class rule (``domain.gate.decide``, the project's gate rules), and the
bootstrap interval of the top-1 difference over resampled test individuals is what
``[gate] require_significant`` asks to exclude zero. The current
embedder is the ``reid-champion`` version, or, before any was promoted, the plain crop
vectors as baseline: a first projection must beat them too. The decision goes through
:func:`wildloop.evaluation.promotion.apply_gate` (audit, compare-and-swap of the alias).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from wildloop.crops.embedder import crop_embedder_key
from wildloop.domain.gate import ClassScore, Interval, ModelScore, decide
from wildloop.domain.model_kinds import REID_EMBEDDER, REID_MODEL_FORMATS
from wildloop.errors import BadInput
from wildloop.evaluation.bootstrap import BootstrapInterval, paired_rate_interval
from wildloop.evaluation.comparison import gate_rules
from wildloop.evaluation.promotion import apply_gate, check_override
from wildloop.individuals.projection import (
    REID_ALIAS,
    Projection,
    QueryHits,
    Retrieval,
    confirmed_sightings,
    held_out_sightings,
    load_version,
    query_hits,
    retrieval,
    space_of,
    summarise,
)
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import get_version
from wildloop.store.tables import ModelVersion

METRIC = "top-1"
BASELINE = "crop vectors"
# Both sides are scored in one call on the same test sightings; no snapshot is frozen.
SAME_SIGHTINGS = 0


def _score(name: str, found: Retrieval, classes: dict[int, str]) -> ModelScore:
    per_class = {
        classes.get(c, str(c)): ClassScore(score, n) for c, (score, n) in found.per_class.items()
    }
    return ModelScore(name, SAME_SIGHTINGS, found.top1, per_class, METRIC, METRIC)


def latest_embedder(project: Project) -> int:
    """The newest ``reid-embedder`` version's id."""
    with project.db.session() as session:
        found = session.scalar(
            select(ModelVersion.id)
            .where(ModelVersion.task == REID_EMBEDDER)
            .order_by(ModelVersion.id.desc())
            .limit(1)
        )
    if found is None:
        raise BadInput("no re-ID embedder yet: run `wildloop individuals train-embedder`")
    return int(found)


def compare_embedders(project: Project, model: str | int | None = None) -> dict[str, Any]:
    """Score ``model`` (the newest re-ID embedder by default) and the current one on the
    test individuals, and the gate's decision; the shape ``apply_gate`` reads."""
    with project.db.session() as session:
        challenger = get_version(session, model if model is not None else latest_embedder(project))
        if challenger.task != REID_EMBEDDER:
            raise BadInput(f"model {challenger.name!r} is not a re-ID embedder")
        champion_id = aliases.resolve(session, REID_ALIAS)
        if champion_id == challenger.id:
            raise BadInput("that embedder is already the re-ID champion")
        champion = session.get(ModelVersion, champion_id) if champion_id else None
        sides = {
            "challenger": _challenger_space(project, challenger),
            "champion": space_of(project, champion),
        }
        found = {
            side: held_out_sightings(project, confirmed_sightings(session, key))
            for side, (key, _) in sides.items()
        }
        names = (challenger.name, champion.name if champion is not None else BASELINE)
        ids = (challenger.id, champion.id if champion is not None else None)
    # Both sides on the same sightings: those with vectors of both embedders.
    common = set(found["challenger"].label_box_ids) & set(found["champion"].label_box_ids)
    found = {side: f.rows([b in common for b in f.label_box_ids]) for side, f in found.items()}
    projections = {side: projection for side, (_, projection) in sides.items()}
    if not common or retrieval(found["champion"], None).queries == 0:
        raise BadInput(
            "no test individual has two confirmed sightings with vectors of both embedders: "
            "confirm more sightings, and run `wildloop individuals embed` (for a registered "
            "re-ID model, `wildloop individuals embed --model MODEL`) before comparing"
        )
    classes = {c.id: c.name for c in project.classes}
    hits = {side: query_hits(found[side], p) for side, p in projections.items()}
    scored = {side: summarise(h) for side, h in hits.items()}
    new = _score(names[0], scored["challenger"], classes)
    old = _score(names[1], scored["champion"], classes)
    interval = _interval(project, hits["champion"], hits["challenger"])
    decision = decide(
        new,
        old,
        gate_rules(project),
        Interval(interval.low, interval.high) if interval is not None else None,
    )
    return {
        "metric": METRIC,
        "test_individuals": len(set(found["challenger"].individual_ids)),
        "held_out_sightings": len(common),
        "challenger": {"model_version_id": ids[0], "name": names[0]}
        | scored["challenger"].as_dict(),
        # None before any promotion: the baseline (plain vectors) stood for the champion.
        "champion": {"model_version_id": ids[1], "name": names[1]} | scored["champion"].as_dict()
        if ids[1] is not None
        else None,
        "baseline": None
        if ids[1] is not None
        else {"name": BASELINE} | scored["champion"].as_dict(),
        "interval": None
        if interval is None
        else {
            "low": round(interval.low, 4),
            "high": round(interval.high, 4),
            "confidence": interval.confidence,
            "samples": interval.samples,
            "resampled_individuals": interval.groups,
        },
        "decision": decision.as_dict(),
    }


def _interval(
    project: Project, champion: QueryHits, challenger: QueryHits
) -> BootstrapInterval | None:
    """The top-1 difference's bootstrap over test individuals (none when
    ``[evaluation] bootstrap_samples`` is 0)."""
    settings = project.config.evaluation
    if not settings.bootstrap_samples:
        return None
    return paired_rate_interval(
        champion.top1,
        challenger.top1,
        challenger.individual_ids,
        samples=settings.bootstrap_samples,
        seed=settings.bootstrap_seed,
    )


def _challenger_space(project: Project, version: ModelVersion) -> tuple[str, Projection | None]:
    """Where the challenger compares: its own model's vectors, or its projection of the
    configured crop embedder's (a projection of another embedder's vectors cannot serve)."""
    if version.artifact_format in REID_MODEL_FORMATS:
        return space_of(project, version)
    if version.params.get("embedder") != crop_embedder_key(project):
        raise BadInput(
            f"{version.name!r} projects {version.params.get('embedder')} vectors, but the "
            f"project's crop embedder is {crop_embedder_key(project)}"
        )
    return crop_embedder_key(project), load_version(project, version)


def promote_embedder(
    project: Project,
    model: str | int | None = None,
    *,
    force: bool = False,
    reason: str | None = None,
    actor_id: int | None = None,
) -> dict[str, Any]:
    """Compare and, when the gate passes (or ``force`` with a ``reason``), move
    ``reid-champion`` to ``model`` from the embedder compared with."""
    check_override(force, reason)
    comparison = compare_embedders(project, model)
    promoted, forced = apply_gate(
        project, comparison, force=force, reason=reason, actor_id=actor_id, alias=REID_ALIAS
    )
    return comparison | {"promoted": promoted, "forced": forced}
