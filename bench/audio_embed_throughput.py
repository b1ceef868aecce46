"""Embedding throughput on real recordings, decoding and resampling included, against a
naive baseline in the same run.

InsectSet32's Orthoptera (/work/shared/data/insect-sounds: FLAC, 44.1 kHz mono) goes through
the product's embedding path: each file decoded once in blocks (soundfile), resampled on the
fly (soxr streaming), cut into windows, windows of several files batched into one model call
(the same functions the `audio-embed` job runs; database writes are timed separately by the
job and excluded here). The baseline decodes each file whole, resamples it whole, and calls
the model once per window. Decoding and the model run one after the other (no overlap), except
in the line marked "decode overlapped", where a thread decodes the next windows while the
model runs. For TFLite models (BirdNET) the product splits each batch between one
single-threaded interpreter per core; "one interpreter" is the previous product path (one
interpreter with all cores as its threads), measured in the same run.

The real-time factor is seconds of recording processed per second of wall time, for
non-overlapping windows (hop = window = 3 s) and for the default hop of 1.5 s (twice the
windows per recording second).

    python bench/audio_embed_throughput.py [--embedder birdnet|logmel|both] [--seconds 300]
"""

from __future__ import annotations

import argparse
import csv
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from wildloop.audio.decode import cut_windows, iter_blocks
from wildloop.audio.embedders import (
    Embedder,
    birdnet_unavailable,
    make_embedder,
)
from wildloop.audio.windows import window_spans
from wildloop.config import AudioSettings

DATA = Path(os.environ.get("WILDLOOP_SHARED_DATA", "/work/shared/data")) / "insect-sounds"


def pick_files(seconds: float) -> tuple[list[Path], float]:
    """Files in labels.csv order until ``seconds`` of audio (the silent one left out)."""
    with (DATA / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    chosen, total = [], 0.0
    for row in rows:
        if total >= seconds:
            break
        path = DATA / row["path"]
        chosen.append(path)
        total += sf.info(str(path)).duration
    return chosen, total


def product(embedder: Embedder, files: list[Path], hop: float, batch: int) -> tuple[float, int]:
    """The job's path: stream, resample, cut, batch across files, embed."""
    rate = embedder.sample_rate
    length_s = embedder.window_samples / rate
    pending: list[np.ndarray] = []
    windows = 0
    started = time.perf_counter()
    for path in files:
        duration = sf.info(str(path)).duration
        spans = window_spans(duration, length_s, hop)
        for _, samples in cut_windows(iter_blocks(path, rate), rate, spans, length_s):
            pending.append(samples)
            if len(pending) == batch:
                embedder.embed(np.stack(pending))
                windows += len(pending)
                pending.clear()
    if pending:
        embedder.embed(np.stack(pending))
        windows += len(pending)
    return time.perf_counter() - started, windows


def overlapped(embedder: Embedder, files: list[Path], hop: float, batch: int) -> tuple[float, int]:
    """The product's path with decoding in a second thread, a few batches ahead."""
    rate = embedder.sample_rate
    length_s = embedder.window_samples / rate
    ready: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=4)

    def decode() -> None:
        pending: list[np.ndarray] = []
        for path in files:
            spans = window_spans(sf.info(str(path)).duration, length_s, hop)
            for _, samples in cut_windows(iter_blocks(path, rate), rate, spans, length_s):
                pending.append(samples)
                if len(pending) == batch:
                    ready.put(np.stack(pending))
                    pending = []
        if pending:
            ready.put(np.stack(pending))
        ready.put(None)

    started = time.perf_counter()
    worker = threading.Thread(target=decode, daemon=True)
    worker.start()
    windows = 0
    while (stacked := ready.get()) is not None:
        embedder.embed(stacked)
        windows += len(stacked)
    worker.join()
    return time.perf_counter() - started, windows


def baseline(embedder: Embedder, files: list[Path], hop: float) -> tuple[float, int]:
    """Decode whole, resample whole, one model call per window."""
    rate = embedder.sample_rate
    length = embedder.window_samples
    windows = 0
    started = time.perf_counter()
    for path in files:
        data, native = sf.read(str(path), dtype="float32", always_2d=True)
        mono = soxr.resample(data.mean(axis=1), native, rate).astype(np.float32)
        for t0, _ in window_spans(len(mono) / rate, length / rate, hop):
            start = round(t0 * rate)
            window = np.zeros(length, np.float32)
            piece = mono[start : start + length]
            window[: len(piece)] = piece
            embedder.embed(window[None, :])
            windows += 1
    return time.perf_counter() - started, windows


def timed(rows: list[tuple[str, float, int, float]], label: str, run: Any, *args: Any) -> None:
    """Run one path; keep its wall seconds, windows and CPU seconds (all threads)."""
    cpu = time.process_time()
    seconds, windows = run(*args)
    rows.append((label, seconds, windows, time.process_time() - cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="both", choices=["both", "birdnet", "logmel"])
    parser.add_argument("--seconds", type=float, default=300.0, help="audio to process")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="model threads; 0 = all cores")
    args = parser.parse_args()
    files, audio_s = pick_files(args.seconds)
    print(
        f"{len(files)} real FLAC files, {audio_s:.0f} s of audio at 44.1 kHz; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    names = ["birdnet", "logmel"] if args.embedder == "both" else [args.embedder]
    for name in names:
        if name == "birdnet" and birdnet_unavailable():
            print(f"birdnet: skipped ({birdnet_unavailable()})")
            continue
        settings = AudioSettings(embedder=name, threads=args.threads)
        embedder = make_embedder(settings, Path())
        embedder.embed(np.zeros((args.batch, embedder.window_samples), np.float32))  # warm-up
        rows: list[tuple[str, float, int, float]] = []
        for hop in (3.0, 1.5):
            timed(rows, f"product hop {hop:.1f} s", product, embedder, files, hop, args.batch)
        timed(rows, "decode overlapped", overlapped, embedder, files, 3.0, args.batch)
        timed(rows, "naive", baseline, embedder, files, 3.0)
        reference = rows[-1][1]
        for label, seconds, windows, cpu in rows:
            print(
                f"{embedder.key} {label:26} {audio_s / seconds:6.1f}x real time "
                f"({windows / seconds:6.1f} windows/s, {seconds:5.1f} s; CPU {cpu:5.1f} s, "
                f"{audio_s / cpu:5.1f} audio s per CPU s); naive/this = {reference / seconds:.2f}x"
            )
        print(f"load average after {embedder.key}: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
