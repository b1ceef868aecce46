"""Shadow runs: how often an int8 challenger agrees with its fp32 champion, and what a
shadow share costs the machine.

On ``--count`` generated scenes (640x480, the demo detector's kind of image) the demo
detector wildloop ships is the champion and its static int8 copy (``wildloop model
quantize``) the challenger. Two passes over the same files, each with a fresh registration
of the same champion file (a version predicts an item once):

- baseline: the champion's ``process`` job alone (shadow share 0);
- shadowed: the champion's job plus the background ``shadow`` job at ``--share`` (0.1),
  run to the end, so the figure is the whole extra work, not just the part that ran first.

Then the challenger runs over every item and the ``shadow-agreement`` job judges them all:
the agreement rate, the outcome counts and per-class rates are printed. Wall time and this
process's CPU time (the workers are threads of it) are printed with the load average, since
the host may be shared.

Usage: python bench/shadow_run.py [--count 200] [--share 0.1]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

from sqlalchemy import select

from loop_timing import generate, ingest  # generated scenes, ingested with their bursts
from wildloop.composition import register_job_kinds
from wildloop.evaluation.quantize_job import submit_quantize
from wildloop.jobs.local import run_job
from wildloop.models.registration import register_model
from wildloop.processing import predict_job
from wildloop.processing.shadow import request_agreement, set_share
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Job, Media

CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
DEMO_DETECTOR = Path(__file__).resolve().parents[1] / "src/wildloop/synthetic/demo_detector.onnx"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(project: Project, job_id: int) -> dict:
    status = run_job(project, job_id, workers=project.config.jobs.local_workers)
    if status["state"] != "succeeded":
        sys.exit(f"job {job_id} {status['state']}: {status['error']}")
    return status


def promote(project: Project, version_id: int) -> None:
    with project.db.session() as session:
        aliases.promote(session, version_id, None, reason="bench")


def timed_pass(project: Project, name: str, share: float) -> tuple[float, float, int]:
    """Register the champion afresh, promote it, process every item at ``share``; returns
    wall seconds, CPU seconds and the items the shadow job covered."""
    version = register_model(project, DEMO_DETECTOR, name)
    promote(project, version.id)
    set_share(project, share)
    wall, cpu = time.perf_counter(), cpu_seconds()
    submitted = predict_job.submit_process(project)
    run(project, submitted.job_id)
    shadowed = 0
    with project.db.session() as session:
        ids = list(
            session.scalars(select(Job.id).where(Job.kind == "shadow", Job.state == "queued"))
        )
    for job_id in ids:
        shadowed += run(project, job_id)["progress"]["total"] or 0
    return time.perf_counter() - wall, cpu_seconds() - cpu, shadowed


def main() -> None:
    register_job_kinds()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="generated images")
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--calibration", type=int, default=64, help="int8 calibration images")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wl-shadow-") as tmp:
        root = Path(tmp)
        project = Project.init(root / "project", "bench", CLASSES)
        frames = generate(root / "scenes", args.count, seed=21)
        ingest(project, frames, root / "scenes")
        items = len(frames)
        first = register_model(project, DEMO_DETECTOR, "champion-0")
        promote(project, first.id)
        quantize = run(project, submit_quantize(project, first.id, calibration=args.calibration))
        int8 = int(quantize["result"]["version_id"])
        with project.db.session() as session:
            aliases.move_alias(session, "challenger", int8, None, "bench")
        print(f"{items} generated images 640x480; champion fp32 demo detector, challenger int8")

        timed_pass(project, "champion-warm", 0.0)  # loads, caches, thread pools warmed
        one_wall, one_cpu, _ = timed_pass(project, "champion-a", 0.0)
        wall, cpu, shadowed = timed_pass(project, "champion-b", args.share)
        load = os.getloadavg()
        two_wall, two_cpu, _ = timed_pass(project, "champion-c", 0.0)
        # The baseline runs before and after the shadowed pass: their mean cancels a drift.
        base_wall, base_cpu = (one_wall + two_wall) / 2, (one_cpu + two_cpu) / 2
        print(
            f"baseline (champion only, mean of 2): {base_wall:.1f} s wall "
            f"({one_wall:.1f}, {two_wall:.1f}), {base_cpu:.1f} s CPU, "
            f"{items / base_wall:.1f} img/s  (load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})"
        )
        print(
            f"share {args.share:g} ({shadowed} items shadowed): {wall:.1f} s wall, "
            f"{cpu:.1f} s CPU, {items / wall:.1f} img/s of new items  "
            f"(load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})"
        )
        print(
            f"ratio shadowed/baseline: wall {wall / base_wall:.3f}x, CPU {cpu / base_cpu:.3f}x "
            f"(extra CPU {100 * (cpu / base_cpu - 1):+.1f}% for {100 * shadowed / items:.1f}% "
            "of items shadowed)"
        )

        every = predict_job.submit_shadow(project, sorted(ingest_ids(project)), share=1.0)
        if every is not None:
            run(project, every.job_id)
        with project.db.session() as session:
            job_id = request_agreement(session)
        assert job_id is not None
        figures = run(project, job_id)["result"]
        print(
            f"agreement int8 vs fp32 over {figures['compared']} items: "
            f"{100 * (figures['agreement'] or 0):.1f}%  outcomes {figures['outcomes']}"
        )
        for row in figures["per_class"]:
            print(
                f"  {row['class']:>8}: {row['agreed']}/{row['items']} {100 * row['agreement']:.1f}%"
            )
        project.close()


def ingest_ids(project: Project) -> list[int]:
    with project.db.session() as session:
        return list(session.scalars(select(Media.id).where(Media.status == "ok")))


if __name__ == "__main__":
    main()
