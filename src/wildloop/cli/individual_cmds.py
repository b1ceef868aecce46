"""`wildloop individuals ...`: known animals, their sightings, re-ID suggestions, checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.orm import Session

from wildloop.cli.job_cmds import print_status, run_with_progress
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.errors import BadInput
from wildloop.evaluation.reid_gate import compare_embedders, promote_embedder
from wildloop.evaluation.reid_switch_job import (
    DEFAULT_MIN_SIMILARITY,
    roll_back,
    submit_promotion,
    submit_refresh,
)
from wildloop.individuals import profiles
from wildloop.individuals.bursts import TRACK_MODES, TrackMode, follow_track
from wildloop.individuals.checks import all_checks
from wildloop.individuals.embed_job import submit_label_embedding
from wildloop.individuals.embedders import embedder_status, register_reid_model
from wildloop.individuals.projection import reid_space
from wildloop.individuals.reid import MAX_K, Candidate, suggest
from wildloop.individuals.suggest_job import submit_suggestions
from wildloop.project import Project
from wildloop.store.tables import Individual, Sighting
from wildloop.training.reid_job import MAX_EPOCHS, start_embedder_training
from wildloop.users.accounts import tool_actor
from wildloop.users.roles import Actor, Role, require_writer

app = typer.Typer(help="Individual animals: profiles, sightings, re-ID.", no_args_is_help=True)

AsOption = Annotated[
    str, typer.Option("--as", help="Who does this (for the audit trail and role checks).")
]
IdArg = Annotated[int, typer.Argument(min=1, help="Individual id.")]
VersionOption = Annotated[
    int | None,
    typer.Option("--version", min=1, help="Version you last saw (refused if it moved on)."),
]


T = TypeVar("T")


def _actor(project: Project, username: str) -> Actor:
    """The named user (created as a login-less reviewer when new, as imports do)."""
    user_id = project.author(username)
    with project.db.session() as session:
        return tool_actor(session, user_id)


def _change(project: Path | None, username: str, call: Callable[[Session, Actor, Project], T]) -> T:
    """Run one change as the named user in one transaction (what every edit command does)."""
    with open_project(project) as proj:
        actor = _actor(proj, username)
        with proj.db.session() as session:
            return call(session, actor, proj)


def _read(project: Path | None, call: Callable[[Session, Project], T]) -> T:
    with open_project(project) as proj, proj.db.session() as session:
        return call(session, proj)


def _described(row: Individual, proj: Project) -> dict[str, Any]:
    return profiles.describe(row, proj.classes)


def _sighting(row: Sighting) -> dict[str, Any]:
    return {"sighting_id": row.id, "individual_id": row.individual_id, "source": row.source}


def _show(rows: list[dict[str, Any]], as_json: bool, line: str) -> None:
    if as_json:
        print_json(rows)
        return
    for row in rows:
        console.print(line.format(**row), highlight=False)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="The animal's name (unique).")],
    class_name: Annotated[str, typer.Option("--class", help="Project class (e.g. buck).")],
    notes: Annotated[str | None, typer.Option(help="Free notes (marks, scars).")] = None,
    as_user: AsOption = "cli",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an individual of one project class."""
    out = _change(
        project,
        as_user,
        lambda s, actor, proj: _described(
            profiles.create_individual(
                s, actor, name=name, class_name=class_name, classes=proj.classes, notes=notes
            ),
            proj,
        ),
    )
    _show([out], as_json, "{id:>6}  {name}  ({class})")


@app.command("list")
def list_(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Every individual with its sighting count and first and last seen."""
    rows = _read(project, lambda s, proj: profiles.list_individuals(s, proj.classes))
    _show(
        rows,
        as_json,
        "{id:>6}  {name}  ({class})  {sightings} sightings  {first_seen}..{last_seen}",
    )


@app.command()
def show(individual: IdArg, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """One individual and its sightings, oldest first."""
    detail = _read(project, lambda s, p: profiles.individual_detail(s, individual, p.classes))
    if as_json:
        print_json(detail)
        return
    console.print(f"{detail['name']} ({detail['class']}) version {detail['version']}")
    _show(
        detail["sightings"],
        False,
        "{sighting_id:>8}  media {media_id}  box {label_box_id}  {source}  {captured_at}",
    )


@app.command()
def edit(
    individual: IdArg,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    notes: Annotated[str | None, typer.Option(help="New notes.")] = None,
    cover: Annotated[int | None, typer.Option(min=1, help="Sighting id to show as cover.")] = None,
    version: VersionOption = None,
    as_user: AsOption = "cli",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rename an individual, change its notes or its cover sighting."""
    out = _change(
        project,
        as_user,
        lambda s, actor, proj: _described(
            profiles.edit_individual(
                s,
                actor,
                individual,
                classes=proj.classes,
                expected_version=version,
                name=name,
                notes=notes,
                cover_sighting_id=cover,
            ),
            proj,
        ),
    )
    _show([out], as_json, "{id:>6}  {name}  ({class})  version {version}")


@app.command()
def assign(
    individual: IdArg,
    box: Annotated[int, typer.Option("--box", min=1, help="Label box id (current labels).")],
    suggested: Annotated[
        bool, typer.Option("--suggested", help="Record as a suggestion, not a confirmation.")
    ] = False,
    track: Annotated[
        str,
        typer.Option(help="The rest of the box's burst track: suggest, assign or none."),
    ] = "none",
    version: VersionOption = None,
    as_user: AsOption = "cli",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a human box a sighting of the individual (or confirm a suggested one); with
    --track suggest (or assign) the other boxes of its burst track follow it."""
    if track not in TRACK_MODES:
        raise BadInput(f"--track must be one of {', '.join(TRACK_MODES)}")
    mode: TrackMode = "none" if suggested else TRACK_MODES[TRACK_MODES.index(track)]

    def change(s: Session, actor: Actor, proj: Project) -> dict[str, Any]:
        row = profiles.assign(
            s,
            actor,
            individual,
            box,
            classes=proj.classes,
            source="suggestion" if suggested else "person",
            expected_version=version,
        )
        followed = follow_track(s, actor, individual, box, classes=proj.classes, mode=mode)
        return _sighting(row) | {"track_sightings": followed}

    out = _change(project, as_user, change)
    _show([out], as_json, "sighting {sighting_id} of individual {individual_id} ({source})")


@app.command()
def unassign(
    sighting: Annotated[int, typer.Argument(min=1, help="Sighting id.")],
    version: VersionOption = None,
    as_user: AsOption = "cli",
    project: ProjectOption = None,
) -> None:
    """Take a sighting out of its individual."""
    _change(
        project,
        as_user,
        lambda s, actor, _: profiles.unassign(s, actor, sighting, expected_version=version),
    )
    console.print(f"sighting {sighting} unassigned")


@app.command()
def move(
    sighting: Annotated[int, typer.Argument(min=1, help="Sighting id.")],
    to: Annotated[int, typer.Option("--to", min=1, help="Individual it belongs to.")],
    version: VersionOption = None,
    as_user: AsOption = "cli",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a sighting to another individual of its class."""
    out = _change(
        project,
        as_user,
        lambda s, actor, _: _sighting(
            profiles.move(s, actor, sighting, to, expected_version=version)
        ),
    )
    _show([out], as_json, "sighting {sighting_id} of individual {individual_id} ({source})")


@app.command()
def merge(
    keep: Annotated[int, typer.Argument(min=1, help="Individual that stays.")],
    absorb: Annotated[int, typer.Argument(min=1, help="Individual whose sightings move.")],
    as_user: AsOption = "cli",
    project: ProjectOption = None,
) -> None:
    """Merge two individuals of one class found to be the same animal."""
    moved = _change(project, as_user, lambda s, actor, _: profiles.merge(s, actor, keep, absorb))
    console.print(f"{moved} sightings moved from {absorb} to {keep}")


@app.command("split")
def split_(
    individual: IdArg,
    name: Annotated[str, typer.Option(help="Name of the new individual.")],
    sighting: Annotated[
        list[int], typer.Option("--sighting", min=1, help="A sighting to move (repeatable).")
    ],
    as_user: AsOption = "cli",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move sightings into a new individual of the same class (two animals in one profile)."""
    out = _change(
        project,
        as_user,
        lambda s, actor, proj: _described(
            profiles.split(s, actor, individual, sighting, name=name, classes=proj.classes), proj
        ),
    )
    _show([out], as_json, "{id:>6}  {name}  ({class})")


def _follow(project: Project, job_id: int, title: str, as_json: bool) -> None:
    """Run the job here with a progress bar, then show its outcome."""
    status = run_with_progress(project, job_id, title)
    if as_json:
        print_json(status)
    else:
        print_status(status)


@app.command()
def embed(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Embed the crops of current human boxes that have no vector yet (a job)."""
    with open_project(project) as proj:
        job_id = submit_label_embedding(proj, created_by=proj.author("cli"))
        _follow(proj, job_id, "individual embed", as_json)


@app.command("suggest")
def suggest_(
    box: Annotated[int, typer.Option("--box", min=1, help="Label box id.")],
    k: Annotated[int, typer.Option("-k", min=1, max=MAX_K, help="How many individuals.")] = 5,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """The individuals of the box's class whose sightings look most like it."""

    def run(s: Session, proj: Project) -> list[Candidate]:
        key, projection = reid_space(s, proj)
        return suggest(s, key, box, k, projection)

    found = _read(project, run)
    rows = [asdict(c) for c in found]
    _show(
        rows, as_json, "{individual_id:>6}  {name}  {similarity:.3f}  (like sighting {sighting_id})"
    )


@app.command("suggest-all")
def suggest_all(
    min_similarity: Annotated[
        float, typer.Option("--min", min=-1, max=1, help="Least cosine similarity recorded.")
    ] = 0.8,
    as_user: AsOption = "cli",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the best candidate of every unassigned human box as a suggestion (a job)."""
    with open_project(project) as proj:
        actor = _actor(proj, as_user)
        require_writer(actor)
        job_id = submit_suggestions(proj, min_similarity, created_by=actor.id)
        _follow(proj, job_id, "individual suggestions", as_json)


@app.command("train-embedder")
def train_embedder(
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, max=MAX_EPOCHS, help="Passes over the data.")
    ] = None,
    dim: Annotated[
        int | None, typer.Option("--dim", min=2, max=4096, help="Projected dimensions.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune the re-ID embedder on confirmed sightings, register it and gate it (a job)."""
    with open_project(project) as proj:
        job_id = start_embedder_training(
            proj, epochs=epochs, dim=dim, created_by=proj.author("cli")
        )
        _follow(proj, job_id, "re-ID embedder", as_json)


@app.command("evaluate-embedder")
def evaluate_embedder(
    model: Annotated[
        str | None, typer.Argument(help="Version id or name (default: the newest re-ID one).")
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make it reid-champion if the gate passes.")
    ] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Top-1/top-5 on the test individuals against the current re-ID embedder."""
    with open_project(project) as proj:
        if promote:
            result = promote_embedder(proj, model, actor_id=proj.author("cli"))
            if result["promoted"]:  # stored suggestions follow the new embedder (a job)
                refresh = submit_refresh(proj, proj.author("cli"))
                result["refresh"] = run_with_progress(proj, refresh, "re-ID refresh")
        else:
            result = compare_embedders(proj, model)
    if as_json:
        print_json(result)
        return
    old = result["champion"] or result["baseline"]
    for side in (result["challenger"], old):
        console.print(f"{side['name']}: top-1 {side['top1']:.3f}  top-5 {side['top5']:.3f}")
    console.print(
        f"{result['test_individuals']} test individuals, {result['challenger']['queries']} queries"
    )
    for reason in result["decision"]["reasons"]:
        console.print(reason)
    if promote:
        console.print("promoted to reid-champion" if result["promoted"] else "not promoted")


def _operator(project: Project) -> Actor:
    """Whoever runs the CLI has the project's files: an admin, as for `wildloop model`."""
    return Actor(project.author("cli"), "cli", Role.ADMIN)


@app.command("embedder")
def embedder_(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Which re-ID embedder serves suggestions, and each candidate's last gate figures."""
    status = _read(project, embedder_status)
    if as_json:
        print_json(status)
        return
    serving = status["serving"]
    console.print(f"serving: {serving['name']} ({serving['kind']}, vectors {serving['embedder']})")
    base = status["baseline"]["gate"]
    if base:
        console.print(f"  baseline: top-1 {base['top1']:.3f}  top-5 {base['top5']:.3f}")
    for c in status["candidates"]:
        gate = c["gate"]
        figures = (
            f"top-1 {gate['challenger']['top1']:.3f} top-5 {gate['challenger']['top5']:.3f} "
            f"vs {gate['against_name']} {gate['against']['top1']:.3f} ({gate['decision']})"
            if gate and gate["challenger"] and gate["against"]
            else "not gated yet"
        )
        mark = "*" if c["serving"] else " "
        console.print(f"{mark}{c['model_version_id']:>5}  {c['name']}  {c['kind']}  {figures}")


@app.command("add-embedder")
def add_embedder(
    path: Annotated[
        Path, typer.Argument(help="A .onnx or .tflite image model: crops in, vectors out.")
    ],
    name: Annotated[str, typer.Option("--name", help="Version name.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register your own re-ID embedder; `promote-embedder` gates it (a job)."""
    with open_project(project) as proj:
        version = register_reid_model(proj, path, name, actor_id=proj.author("cli"))
        row = {"model_version_id": version.id, "name": version.name, **version.params}
    if as_json:
        print_json(row)
    else:
        console.print(
            f"registered {row['name']} (#{row['model_version_id']}), vectors {row['embedder']}"
        )


@app.command("promote-embedder")
def promote_embedder_(
    model: Annotated[str, typer.Argument(help="Version id or name.")],
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the gate refuses.")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (with --force).")] = None,
    min_similarity: Annotated[
        float, typer.Option("--min", min=-1, max=1, help="Least re-scored suggestion kept.")
    ] = DEFAULT_MIN_SIMILARITY,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Gate a re-ID embedder against the serving one; if promoted, embed and re-score the
    stored suggestions with it (a job)."""
    with open_project(project) as proj:
        job_id = submit_promotion(
            proj, _operator(proj), model, force=force, reason=reason, min_similarity=min_similarity
        )
        _follow(proj, job_id, "re-ID embedder promotion", as_json)


@app.command("rollback-embedder")
def rollback_embedder(
    expected: Annotated[
        int | None, typer.Option("--expected", min=1, help="The version you saw serving.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Serve the baseline crop vectors again; a job re-scores the stored suggestions."""
    with open_project(project) as proj:
        done = roll_back(proj, _operator(proj), expected)
        _follow(proj, int(done["job_id"]), "re-ID embedder roll back", as_json)


@app.command()
def check(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Profiles to look at again: sightings now labelled another class (a doe in a buck),
    impossible travel between cameras, individuals straddling dataset splits."""
    found = _read(project, lambda s, proj: all_checks(s, proj.classes))
    if as_json:
        print_json(found)
        return
    for name, entries in found.items():
        console.print(f"{name}: {len(entries)}", highlight=False)
        for entry in entries:
            details = {k: v for k, v in entry.items() if k not in ("fix", "name")}
            console.print(f"  {entry['name']}: {details}", highlight=False)
        if entries:
            console.print(f"  fix: {entries[0]['fix']}", highlight=False)
