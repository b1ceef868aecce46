"""`wildloop splits regroup`: change what splits are grouped by, explicitly; split printers."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json
from wildloop.domain.splits import GroupBy
from wildloop.media.regroup import RegroupPlan, apply_regroup, plan_regroup

app = typer.Typer(
    help="Frozen train/val/test splits: what they are grouped by.", no_args_is_help=True
)


@app.command("regroup")
def regroup(
    by: Annotated[GroupBy, typer.Option("--by", help="sequence, camera or location.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Apply the moves (default: only show them).")
    ] = False,
    allow_test_change: Annotated[
        bool,
        typer.Option(
            "--allow-test-change",
            help="Apply even though a frozen test snapshot loses items or gains reviewed ones.",
        ),
    ] = False,
    author: Annotated[str, typer.Option(help="Who makes the change (audit log).")] = "cli",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what regrouping the splits would move; with --yes, move it (audited)."""
    with open_project(project) as proj:
        actor = proj.author(author) if yes else None
        with proj.db.session() as session:
            plan = plan_regroup(proj, session, by)
            if yes:
                apply_regroup(
                    proj, session, plan, actor_id=actor, allow_test_change=allow_test_change
                )
    if as_json:
        print_json(plan.as_dict() | {"applied": yes})
        return
    _print_plan(plan, yes)


def _print_plan(plan: RegroupPlan, applied: bool) -> None:
    data = plan.as_dict()
    verb = "moved" if applied else "would move"
    console.print(
        f"Regroup by {data['group_by']} (now {data['current']}): {verb} "
        f"{data['sequences_moved']} sequences, {data['media_moved']} media, "
        f"{data['reviewed_moved']} reviewed."
    )
    if data["media"]:
        table = Table("from", "to")
        for column in ("sequences", "media", "reviewed"):
            table.add_column(column, justify="right")
        for seq, media, reviewed in zip(
            data["sequences"], data["media"], data["reviewed"], strict=True
        ):
            table.add_row(
                seq["from"],
                seq["to"],
                str(seq["count"]),
                str(media["count"]),
                str(reviewed["count"]),
            )
        console.print(table)
    if plan.empty_splits_after:
        errors.print(
            f"[yellow]{', '.join(plan.empty_splits_after)} would hold no media:[/] too few "
            f"{data['group_by']} groups for the split ratios; add locations or keep a finer "
            "grouping"
        )
    if plan.touches_test_snapshot:
        errors.print(
            f"[yellow]test snapshot:[/] {plan.test_items_leaving} of its items leave test, "
            f"{plan.reviewed_entering_test} reviewed items enter test"
        )
    if not applied:
        console.print("Nothing changed; run again with --yes to apply.")


def print_split_groups(splits: dict[str, Any]) -> None:
    """What each split holds, for `wildloop status`."""
    table = Table(title=f"splits grouped by {splits['group_by']}")
    for column in ("split", "sequences", "cameras", "locations"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, held in splits["per_split"].items():
        table.add_row(split, str(held["sequences"]), str(held["cameras"]), str(held["locations"]))
    console.print(table)
    if splits["cameras_without_location"]:
        console.print(
            f"{splits['cameras_without_location']} cameras have no location and count as "
            "locations of their own (`wildloop camera set NAME --location ...`)"
        )
    if splits["groups_in_two_splits"]:
        examples = ", ".join(escape(e) for e in splits["examples_in_two_splits"])
        errors.print(
            f"[yellow]{splits['groups_in_two_splits']} {splits['group_by']} groups sit in more "
            f"than one split[/] (e.g. {examples}): a camera's location changed after its "
            "sequences were split; `wildloop splits regroup` shows the fix"
        )


def print_hint(hint: str | None) -> None:
    if hint:
        errors.print(f"[cyan]hint:[/] {escape(hint)}")
