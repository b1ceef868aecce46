"""How long the value-ordered review queue takes to compute its order (the ``review-queue``
job's work, which requests once did on a cache miss) against serving a request from the
stored order (the baseline), on an archive of ~20,000 unreviewed images.

The archive is bench/review_data.py's (bursts of 1-8 frames, one champion with a prediction
set per item, ~2.2 predictions per item, 10% reviewed) on SQLite; no crop vectors, so the
novelty signal (a nearest-neighbour search over crop vectors) is not part of the figure.

    python bench/review_queue.py [--media 22222]
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.init(Path(tmp) / "p", "bench", review_data.CLASSES)
        try:
            counts = review_data.build(project.db.engine, args.media)
            print(", ".join(f"{n:,} {table}" for table, n in counts.items()))
            miss, hit = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                count = queue.refresh_order(project)
                miss.append(time.perf_counter() - start)
                start = time.perf_counter()
                page = queue.value_queue(project, limit=50)
                hit.append(time.perf_counter() - start)
                assert page.refreshing is None and len(page.items) == 50
            print(f"order length {count}")
        finally:
            project.close()
    m, h = statistics.median(miss) * 1000, statistics.median(hit) * 1000
    print(
        f"compute the order (job): median {m:.0f} ms (min {min(miss) * 1000:.0f}, "
        f"max {max(miss) * 1000:.0f}); request from the stored order: median {h:.1f} ms; "
        f"ratio {m / h:.0f}x  (shared 2-core machine under load by other engineers)"
    )


if __name__ == "__main__":
    main()
