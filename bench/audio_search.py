"""Search-by-example latency at a million windows, with the product's index.

The vectors are SYNTHETIC (clustered Gaussian, 1024-d like BirdNET's embedding, or --dim):
a real archive of a million embedded windows cannot be built on this machine in a benchmark
run. The index is the one `wildloop audio index` builds above 50,000 windows
(``audio.search.make_index``: IVF with 8-bit scalar quantisation, inner product on
L2-normalised vectors), probed as ``SearchIndex`` probes it. Each query is one window's
vector, searched alone (as a reviewer's click is), k = 20. Recall@20 is measured against an
exact search over a 100,000-vector slice held in memory.

    python bench/audio_search.py [--count 1000000] [--dim 1024] [--queries 300] [--keep F]

Queries run with one faiss thread, as ``SearchIndex`` runs them (OpenMP fan-out on a busy
machine made single queries ten times slower); ``--keep`` saves the built index and reuses it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import faiss
import numpy as np

from wildloop.audio.search import PROBES, TRAIN_PER_LIST, lists_for, make_index, normalised

CLUSTERS = 4000


def vectors(rng: np.random.Generator, centres: np.ndarray, count: int) -> np.ndarray:
    """Points around random cluster centres: calls of one kind sit close together."""
    which = rng.integers(len(centres), size=count)
    noise = rng.standard_normal((count, centres.shape[1]), dtype=np.float32)
    return normalised(centres[which] + 0.6 * noise)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="save the built index here / reuse it")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CLUSTERS, args.dim), dtype=np.float32)
    lists = lists_for(args.count)
    print(
        f"{args.count:,} synthetic {args.dim}-d vectors, IVF-SQ8 with {lists} lists, "
        f"{PROBES} probed; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    started = time.perf_counter()
    train = vectors(rng, centres, TRAIN_PER_LIST * lists)
    step = 50_000
    if args.keep and args.keep.exists():
        index = faiss.read_index(str(args.keep))
        first = vectors(rng, centres, step)[:100_000]
        print(f"reused {args.keep} ({index.ntotal:,} vectors)")
    else:
        index = make_index(args.dim, args.count, train)
        trained = time.perf_counter() - started
        first = None
        for start in range(0, args.count, step):
            batch = vectors(rng, centres, min(step, args.count - start))
            if first is None:
                first = batch[:100_000]
            index.add_with_ids(batch, np.arange(start, start + len(batch), dtype=np.int64))
        built = time.perf_counter() - started
        print(f"build: train {trained:.0f} s, total {built:.0f} s ({args.count / built:,.0f}/s)")
        if args.keep:
            faiss.write_index(index, str(args.keep))
    index.nprobe = PROBES
    faiss.omp_set_num_threads(1)
    queries = vectors(rng, centres, args.queries)
    times = []
    found = []
    for query in queries:
        t0 = time.perf_counter()
        _, ids = index.search(query[None, :], 20)
        times.append(time.perf_counter() - t0)
        found.append(ids[0])
    ms = np.array(times) * 1000
    print(
        f"search k=20, one query at a time: p50 {np.percentile(ms, 50):.1f} ms, "
        f"p95 {np.percentile(ms, 95):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, "
        f"max {ms.max():.1f} ms ({len(ms)} queries)"
    )
    assert first is not None
    exact = first @ queries.T  # recall on the first slice: true top-20 within it
    hits = total = 0
    for q in range(len(queries)):
        truth = set(np.argsort(-exact[:, q])[:20].tolist())
        _, ids = index.search(queries[q][None, :], 2000)
        kept = [i for i in ids[0] if 0 <= i < len(first)][:20]
        hits += len(truth & set(kept))
        total += 20
    print(f"recall@20 within the first {len(first):,} vectors: {hits / total:.3f}")


if __name__ == "__main__":
    main()
