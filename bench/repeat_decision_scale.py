"""Repeat decisions at archive scale: a decision over thousands of frames in the request vs as
a job, and the grid's queries with and without false-positive regions in force.

Builds the review archive of bench/review_data.py (``--media`` items on 50 cameras, one
champion with ~2 predictions per item, 10% reviewed) in a SQLite project, then:

1. plants a static "rock" box (class pig, score 0.8) on ``--frames`` frames of each of two
   cameras and decides both groups false positive: one the old way (every frame's hard
   negative in the deciding transaction: what the request used to do), one the new way (the
   request stores the decision and submits the job; the job is then run by one local worker);
2. times the grid's hot queries (a page of 50 and the capped count) with the two regions in
   force and without them (the decisions marked undone: no predicate at all, the queries of
   ADR 0007), alternating run by run.

The groups are built from the planted boxes directly (``RepeatGroup``), so the figures are the
decision's and the grid's, not the grouping's (bench/repeat_false_positives.py measures that).

    python bench/repeat_decision_scale.py [--media 200000] [--frames 3000] [--runs 15]

Measured 2026-11-30 (2 shared cores, load average 9-10), defaults: built in 41 s; decision
over 3,000 frames (2,706 labelled): in the request 31.40 s, now 20 ms in the request (0.001x)
and 29.42 s in the job (one local worker). Grid, regions vs none, page / count ratio: class
pig unreviewed 1.61/0.98, rare class 1.16/0.85, min_score 1.08/0.98, score order 1.69/1.04,
the region's camera 1.14/1.57 (figures in docs/review.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

sys.path.insert(0, str(Path(__file__).parent))
import review_data
from wildloop.composition import register_job_kinds
from wildloop.domain.boxes import Box
from wildloop.domain.repeats import RepeatGroup
from wildloop.jobs.executor import run_job
from wildloop.project import Project
from wildloop.review import grid
from wildloop.review.filters import GridFilter
from wildloop.review.repeat_decisions import SYNC_FRAMES, decide
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet, RepeatDecision

ROCK = Box(0.4, 0.6, 0.15, 0.2)


def queries(project: Project) -> dict[str, GridFilter]:
    c = project.classes.id_of
    return {
        "class pig, unreviewed": GridFilter(class_id=c("pig"), reviewed=False),
        "class fawn (rare)": GridFilter(class_id=c("fawn")),
        "min_score 0.9": GridFilter(min_score=0.9),
        "sort -score": GridFilter(sort="score", descending=True),
        "cam02 class pig": GridFilter(camera_id=2, class_id=c("pig")),
    }


def time_grid(project: Project, runs: int) -> dict[bool, dict[str, tuple[float, float]]]:
    """Median ms of a first page of 50 and of the capped count, per query, with the regions
    in force (True) and without (False: the decisions marked undone for the moment), the two
    states alternating run by run so both see the same warm cache and the same host load."""
    flts = queries(project)
    times: dict[bool, dict[str, tuple[list[float], list[float]]]] = {
        state: {name: ([], []) for name in flts} for state in (False, True)
    }
    for _ in range(runs):
        for state in (False, True):
            with project.db.session() as session:
                session.execute(
                    update(RepeatDecision).values(undone_at=None if state else datetime(2026, 1, 1))
                )
            for name, flt in flts.items():
                with project.db.session() as session:
                    pages, counts = times[state][name]
                    pages.append(_ms(lambda s=session, f=flt: grid.page(s, f, limit=50)))
                    counts.append(_ms(lambda s=session, f=flt: grid.count(s, f)))
    return {
        state: {n: (statistics.median(p), statistics.median(c)) for n, (p, c) in by.items()}
        for state, by in times.items()
    }


def _ms(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def plant(project: Project, camera_id: int, frames: int) -> RepeatGroup:
    """The rock on the camera's first ``frames`` frames; the group a user would decide."""
    with project.db.session() as session:
        rows = session.execute(
            select(Media.id, PredictionSet.id)
            .join(PredictionSet, PredictionSet.media_id == Media.id)
            .where(Media.camera_id == camera_id)
            .order_by(Media.id)
            .limit(frames)
        ).all()
        name = session.scalar(select(Camera.name).where(Camera.id == camera_id))
        ids = session.scalars(
            insert(Prediction).returning(Prediction.id),
            [
                {
                    "prediction_set_id": set_id,
                    "class_id": project.classes.id_of("pig"),
                    "class_name": "pig",
                    "score": 0.8,
                    "x": ROCK.x,
                    "y": ROCK.y,
                    "w": ROCK.w,
                    "h": ROCK.h,
                }
                for _, set_id in rows
            ],
        ).all()
    return RepeatGroup(
        str(name), ROCK, tuple(sorted(ids)), tuple(m for m, _ in rows), len(rows), ROCK
    )


def decide_now(project: Project, group: RepeatGroup, sync_frames: int | None) -> tuple[float, Any]:
    start = time.perf_counter()
    with project.db.session() as session:
        row = decide(
            session,
            group,
            "false_positive",
            actor_id=1,
            classes=project.classes,
            iou=0.85,
            min_score=0.5,
            sync_frames=sync_frames,
        )
        job_id = row.job_id
    return time.perf_counter() - start, job_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=int, default=200_000)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    register_job_kinds()
    work = Path(tempfile.mkdtemp(prefix="wildloop-repeat-scale-"))
    try:
        project = Project.init(work / "project", "bench", review_data.CLASSES)
        start = time.perf_counter()
        counts = review_data.build(project.db.engine, args.media)
        print(
            f"load {os.getloadavg()[0]:.1f}; built in {time.perf_counter() - start:.0f} s: "
            + ", ".join(f"{n:,} {t}" for t, n in counts.items())
        )
        time_grid(project, 1)  # warm the page cache: the build left it cold
        old = plant(project, 2, args.frames)
        new = plant(project, 3, args.frames)
        print(f"load {os.getloadavg()[0]:.1f}; decision over {len(old.media_ids)} frames:")
        in_request, _ = decide_now(project, old, sync_frames=10**9)
        print(f"  before (hard negatives in the request): {in_request:.2f} s")
        submitted, job_id = decide_now(project, new, sync_frames=None)
        assert job_id is not None, f"{len(new.media_ids)} frames <= SYNC_FRAMES {SYNC_FRAMES}"
        print(
            f"  after (decision + job submitted in the request): {submitted * 1000:.0f} ms "
            f"= {submitted / in_request:.3f}x"
        )
        start = time.perf_counter()
        status = run_job(project, job_id, workers=1)
        print(
            f"  the job ({status['state']}, one local worker): "
            f"{time.perf_counter() - start:.2f} s wall; {status['result']}"
        )
        timed = time_grid(project, args.runs)
        before, after = timed[False], timed[True]
        print(f"load {os.getloadavg()[0]:.1f}; grid, median ms of {args.runs} (page 50 / count):")
        print(f"  {'query':<24} {'no region':>16} {'2 regions':>16} {'ratio':>12}")
        for name, (page0, count0) in before.items():
            page1, count1 = after[name]
            print(
                f"  {name:<24} {page0:7.1f} / {count0:6.1f} {page1:7.1f} / {count1:6.1f} "
                f"{page1 / page0:5.2f} / {count1 / count0:4.2f}"
            )
        project.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
