"""`wildloop analytics report|csv`: counts, diel activity, detection rates and occupancy."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wildloop.analytics.report import (
    TABLES,
    ActivityReport,
    AnalyticsQuery,
    Per,
    Source,
    activity_report,
)
from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.domain.activity import Period
from wildloop.errors import BadInput
from wildloop.tallies import maintained

app = typer.Typer(
    help="Numbers from the photos: activity, detection rates, occupancy.", no_args_is_help=True
)

SourceOption = Annotated[
    Source,
    typer.Option(
        help="labels: reviewed items only; labels+predictions: plus unreviewed items "
        "whose champion's top class passes its threshold (counted apart)."
    ),
]
IntervalOption = Annotated[
    int, typer.Option("--interval", help="Independence interval in minutes.", min=0, max=10080)
]
PeriodOption = Annotated[Period, typer.Option(help="Bins for counts over time and occupancy.")]
SinceOption = Annotated[
    str | None, typer.Option(help="First camera-local time, e.g. 2024-03-01 (inclusive).")
]
UntilOption = Annotated[str | None, typer.Option(help="Camera-local time to stop at (exclusive).")]
PerOption = Annotated[
    Per,
    typer.Option(
        help="detection: events are independent detections (no gap over the interval); "
        "event: events are sequences (bursts), counting the most boxes of a class in a frame."
    ),
]


@app.command("report")
def report_command(
    source: SourceOption = Source.LABELS,
    interval: IntervalOption = 30,
    period: PeriodOption = Period.MONTH,
    since: SinceOption = None,
    until: UntilOption = None,
    per: PerOption = Per.DETECTION,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print detection rates per 100 trap-nights, naive occupancy and diel activity."""
    report = _report(project, source, interval, period, since, until, per)
    if as_json:
        print_json(report.as_dict())
        return
    _print(report)


@app.command("csv")
def csv_command(
    table: Annotated[str, typer.Argument(help=f"One of: {', '.join(TABLES)}.")],
    out: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
    source: SourceOption = Source.LABELS,
    interval: IntervalOption = 30,
    period: PeriodOption = Period.MONTH,
    since: SinceOption = None,
    until: UntilOption = None,
    per: PerOption = Per.DETECTION,
    project: ProjectOption = None,
) -> None:
    """Write one table of the report as CSV."""
    if table not in TABLES:
        raise BadInput(f"no table {table!r}; the tables are {', '.join(TABLES)}")
    text = _report(project, source, interval, period, since, until, per).csv(table)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


def _report(
    project: Path | None,
    source: Source,
    interval: int,
    period: Period,
    since: str | None,
    until: str | None,
    per: Per,
) -> ActivityReport:
    query = AnalyticsQuery(source, interval, period, _when(since), _when(until), per)
    with open_project(project) as proj, proj.db.session() as session:
        return activity_report(session, proj.classes, proj.config.thresholds, query)


@app.command("rebuild")
def rebuild_command(project: ProjectOption = None) -> None:
    """Fill the sums the report reads from the labels (after an upgrade; saves keep them)."""
    with open_project(project) as proj, proj.db.session() as session:
        stored = maintained.rebuild(session)
    console.print(f"rebuilt the analytics sums from {stored} detections")


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(
            f"{text!r} is not a date or time like 2024-03-01 or 2024-03-01T06:00"
        ) from exc


def _print(report: ActivityReport) -> None:
    console.print(
        f"{report.media} detections ({report.media_predicted} predicted) in {report.events} "
        + (
            "events (sequences)"
            if report.per == "event"
            else f"independent events ({report.interval_minutes} min)"
        )
        + f", source {report.source}; computed {report.computed} ({report.computed_note})"
    )
    rates = Table("class", "camera", "events", "trap-nights", "per 100 trap-nights")
    for r in report.rates:
        rates.add_row(
            r["class"],
            r["camera"],
            str(r["events"]),
            str(r["trap_nights"]),
            f"{r['per_100_trap_nights']:.2f}",
        )
    console.print(rates)
    occupancy = Table("period", "class", "sites detected", "sites surveyed", "naive occupancy")
    for o in report.occupancy:
        occupancy.add_row(
            o["period"],
            o["class"],
            str(o["sites_detected"]),
            str(o["sites_surveyed"]),
            f"{o['naive_occupancy']:.2f}",
        )
    console.print(occupancy)
    diel = Table("class", "events by hour 00..23")
    for name, bins in report.diel.items():
        diel.add_row(name, " ".join(str(n) for n in bins))
    console.print(diel)
