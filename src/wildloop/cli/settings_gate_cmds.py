"""`wildloop model compare-settings|gate-settings`: location priors and sequence smoothing
measured as a change of the champion, and changed only through the gate."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from wildloop.cli.model_cmds import ActorOption
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, errors, print_json
from wildloop.errors import Conflict
from wildloop.evaluation.settings_gate import (
    compare_settings,
    current_settings,
    gate_settings,
    parse_settings,
)

SettingsOption = Annotated[
    str,
    typer.Option(
        "--settings",
        help="The proposed change, e.g. 'priors=soft,factor=0.1,smoothing=on,weak=0.5' "
        "(unnamed settings keep their current value).",
    ),
]
ModelOption = Annotated[str, typer.Option(help="A pipeline or crop classifier: id, name or alias.")]
SnapshotOption = Annotated[
    str | None, typer.Option(help="Test snapshot id or name (default: the latest).")
]


def compare_settings_cmd(
    settings: SettingsOption,
    model: ModelOption = "champion",
    snapshot: SnapshotOption = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score the model on the test split's crops under the current and the proposed priors
    and smoothing (same crops, same gate, sequence bootstrap); changes nothing."""
    with open_project(project) as proj:
        proposed = parse_settings(settings, current_settings(proj))
        result = compare_settings(proj, proposed, model=model, snapshot=snapshot).as_dict()
    if as_json:
        print_json(result)
        return
    _print(result)


def gate_settings_cmd(
    settings: SettingsOption,
    model: ModelOption = "champion",
    snapshot: SnapshotOption = None,
    actor: ActorOption = "admin",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the project's priors and smoothing only if the proposed settings beat the
    current ones on the frozen test split (the verdict is audited); exit 4 when refused."""
    with open_project(project) as proj:
        proposed = parse_settings(settings, current_settings(proj))
        result = gate_settings(
            proj, proposed, model=model, snapshot=snapshot, actor_id=proj.author(actor)
        )
    if as_json:
        print_json(result)
    else:
        _print(result)
    if not result["changed"]:
        if not as_json:
            errors.print("the settings stay as they are")
        raise typer.Exit(Conflict.exit_code)
    if not as_json:
        console.print(
            "settings changed; predictions made from now on use them "
            "(`wildloop reprocess` applies them to old ones)"
        )


def _print(result: dict[str, Any]) -> None:
    old, new = result["current"], result["proposed"]
    table = Table(
        f"{result['model']} on {result['snapshot']} ({old['crops']} test crops)",
        f"current: {old['described']}",
        f"proposed: {new['described']}",
        title="the classifier stage on ground-truth test crops",
    )
    for key, label in (("top1", "top-1"), ("macro_f1", "macro-F1"), ("dropped", "dropped")):
        table.add_row(label, str(old[key]), str(new[key]))
    console.print(table)
    interval = result["macro_f1_difference_interval"]
    if interval:
        console.print(
            f"macro-F1 change, {interval['confidence']:.0%} interval over "
            f"{interval['resampled_sequences']} resampled sequences: "
            f"[{interval['low']:+.4f}, {interval['high']:+.4f}]"
        )
    decision = result["decision"]
    verdict = "PASSES" if decision["promote"] else "REFUSED"
    console.print(f"[bold]{verdict}[/]: " + "; ".join(decision["reasons"]))


def register(app: typer.Typer) -> None:
    """Add these commands to the `wildloop model` group."""
    app.command("compare-settings")(compare_settings_cmd)
    app.command("gate-settings")(gate_settings_cmd)
