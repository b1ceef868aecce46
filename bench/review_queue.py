"""How long the value-ordered review queue takes to compute its order (the ``review-queue``
job's work, which requests once did on a cache miss) against serving a request from the
stored order (the baseline), on an archive of ~20,000 unreviewed images.

The archive is bench/review_data.py's (bursts of 1-8 frames, one champion with a prediction
set per item, ~2.2 predictions per item, 10% reviewed) on SQLite. With ``--crop-dim N`` every
prediction also has an N-d float16 crop vector stored under the champion's detector-features
key (``crops.model = "detector"``), so the novelty signal (each unreviewed item's best crop
against the nearest reviewed crop, through the vector index) is part of the refresh. "next"
is what the review page asks for the next item: ``value_queue(limit=1, exclude=<shown>)``,
timed over service calls (no HTTP) after a refresh; its p95 is reported.

    python bench/review_queue.py [--media 22222] [--crop-dim 448] [--runs 3]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import review_data
from wildloop.project import Project
from wildloop.review import queue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=int, default=22_222)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--crop-dim", type=int, default=0, help="crop vector dims (0: none)")
    parser.add_argument("--next-calls", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile one refresh")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.init(Path(tmp) / "p", "bench", review_data.CLASSES)
        try:
            if args.crop_dim:
                project.config.crops.embed = True
                project.config.crops.model = "detector"
            start = time.perf_counter()
            counts = review_data.build(
                project.db.engine, args.media, crop_dim=args.crop_dim, crop_key="detector:1"
            )
            print(
                ", ".join(f"{n:,} {table}" for table, n in counts.items())
                + f"; built in {time.perf_counter() - start:.0f} s"
            )
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                queue.refresh_order(project)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            miss, hit, nxt = [], [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                count = queue.refresh_order(project)
                miss.append(time.perf_counter() - start)
                start = time.perf_counter()
                page = queue.value_queue(project, limit=50)
                hit.append(time.perf_counter() - start)
                assert page.refreshing is None and len(page.items) == 50
            print(f"order length {count}")
            shown = None
            for _ in range(args.next_calls):
                start = time.perf_counter()
                page = queue.value_queue(project, limit=1, exclude=shown)
                nxt.append(time.perf_counter() - start)
                shown = page.items[0].media_id
        finally:
            project.close()
    m, h = statistics.median(miss) * 1000, statistics.median(hit) * 1000
    p95 = sorted(nxt)[int(0.95 * (len(nxt) - 1))] * 1000
    print(
        f"{args.media:,} media, crop vectors {args.crop_dim or 'none'}-d: "
        f"compute the order (job): median {m:.0f} ms (min {min(miss) * 1000:.0f}, "
        f"max {max(miss) * 1000:.0f}); request from the stored order: median {h:.1f} ms; "
        f"ratio {m / h:.0f}x; next item p95 {p95:.1f} ms over {len(nxt)} calls "
        f"(shared 2-core machine; load average after {os.getloadavg()})"
    )


if __name__ == "__main__":
    main()
