"""Re-identification suggestions on generated individuals: top-1/top-5 through the product.

Every step is the product's: a SQLite project, photos ingested, one human box per photo
(``review.labels.save_labels``), individuals created and their first ``--gallery`` photos
assigned (``individuals.profiles``), the ``individual-embed`` job (bundled int8 MobileNet v1
crops, 1024-d), then ``individuals.reid.suggest`` for every other photo. Individuals are
``synthetic.coats``: stripes of a random period, colour pair and direction, per-pixel noise,
random place and size; half are bucks, half does, so the class restriction halves the field.

Baseline in the same run: the expected top-1/top-5 of a random ranking over the individuals
of the box's class. The coats are far easier than real animals (no pose, light or occlusion),
so these figures bound the plumbing, not real re-ID accuracy.

    python bench/reid_generated.py [--individuals 40] [--photos 5] [--gallery 2]
        [--jitter 12] [--light 0.0]

Measured 2026-11-29 (2 shared CPU cores, loaded by other engineers):
- defaults (40 individuals, 120 queries): top-1 1.000, top-5 1.000 (random 0.050 / 0.250);
  embed job 6.6 s for 200 boxes, suggest 4.5 ms per box.
- ``--individuals 100 --jitter 90 --light 0.5`` (300 queries): top-1 0.923 (random 0.020,
  46x), top-5 0.993 (random 0.100, 9.9x); embed job 24.4 s for 500 boxes (~49 ms per box
  with decode), suggest 9.1 ms per box.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select

from wildloop.composition import register_job_kinds
from wildloop.domain.boxes import Box
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.individuals.embed_job import submit_label_embedding
from wildloop.individuals.profiles import assign, create_individual
from wildloop.individuals.projection import champion_projection, is_test_individual
from wildloop.individuals.reid import suggest
from wildloop.inference.crops import DEFAULT_KEY
from wildloop.jobs.local import run_job
from wildloop.media.ingest import ingest_paths
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import LabelBox, Media
from wildloop.synthetic.coats import photo, random_coat
from wildloop.training.reid_job import start_embedder_training
from wildloop.users.roles import Actor, Role


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--individuals", type=int, default=40)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--gallery", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jitter", type=int, default=12, help="per-pixel coat noise")
    parser.add_argument("--light", type=float, default=0.0, help="brightness gain spread")
    parser.add_argument("--epochs", type=int, default=0, help="fine-tune (0: do not)")
    args = parser.parse_args()
    register_job_kinds()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = Project.init(root / "p", "reid", ["buck", "doe"])
        coats = [random_coat(rng) for _ in range(args.individuals)]
        truth: dict[str, tuple[int, tuple[float, float, float, float]]] = {}
        (root / "photos").mkdir()
        for i, coat in enumerate(coats):
            for n in range(args.photos):
                image, box = photo(coat, rng, args.jitter, args.light)
                name = f"i{i:03d}_{n:02d}.jpg"
                Image.fromarray(image).save(root / "photos" / name, quality=90)
                truth[name] = (i, box)
        ingest_paths(project, [root / "photos"])
        author = project.author("bench")
        actor = Actor(author, "bench", Role.REVIEWER)
        boxes: dict[int, list[int]] = {i: [] for i in range(len(coats))}
        with project.db.session() as s:
            for media_id, path in s.execute(select(Media.id, Media.path).order_by(Media.path)):
                i, box = truth[Path(path).name]
                value = LabelBoxValue(Box(*box), i % 2)
                rev = save_labels(
                    s,
                    media_id,
                    LabelSet(boxes=(value,)),
                    author_id=author,
                    classes=project.classes,
                    expected_revision=None,
                )
                s.flush()
                boxes[i].append(
                    s.scalars(select(LabelBox.id).where(LabelBox.revision_id == rev.id)).one()
                )
            ids = [
                create_individual(
                    s,
                    actor,
                    name=f"ind{i}",
                    class_name=("buck", "doe")[i % 2],
                    classes=project.classes,
                ).id
                for i in range(len(coats))
            ]
            # Every photo of a train individual is a confirmed sighting (what fine-tuning
            # learns from); a test individual has its gallery confirmed, the rest are queries.
            held_out = {i for i, ind in enumerate(ids) if is_test_individual(project, ind)}
            for i, individual in enumerate(ids):
                gallery = args.gallery if i in held_out or not args.epochs else args.photos
                for box_id in boxes[i][:gallery]:
                    assign(s, actor, individual, box_id, classes=project.classes)
        started = time.perf_counter()
        status = run_job(project, submit_label_embedding(project))
        embed_s = time.perf_counter() - started
        assert status["state"] == "succeeded", status
        queried = held_out if args.epochs else set(range(len(coats)))
        before, suggest_ms = _suggestions(project, ids, boxes, queried, args.gallery)
        if args.epochs:
            started, cpu = time.perf_counter(), time.process_time()
            job = run_job(project, start_embedder_training(project, epochs=args.epochs))
            train_s, train_cpu = time.perf_counter() - started, time.process_time() - cpu
            assert job["state"] == "succeeded", job
            after, _ = _suggestions(project, ids, boxes, queried, args.gallery)
        project.close()
    print(
        f"{args.individuals} individuals (half bucks, half does), {args.gallery} gallery + "
        f"{args.photos - args.gallery} query photos each; coat noise +-{args.jitter}, "
        f"brightness +-{args.light:.0%}"
    )
    same_class = args.individuals / 2
    chance = {1: 1 / same_class, 5: min(5, same_class) / same_class}
    for k in (1, 5):
        rate = before[k]
        print(f"top-{k} {rate:.3f} (random ranking {chance[k]:.3f}, ratio {rate / chance[k]:.1f}x)")
    if args.epochs:
        print(
            f"fine-tuned on {job['result']['training']['train_sightings']} sightings of "
            f"{job['result']['training']['train_individuals']} train individuals, "
            f"{args.epochs} epochs: job {train_s:.1f} s wall, {train_cpu:.1f} s CPU"
        )
        print(f"suggestions for the {len(held_out)} test individuals' query photos:")
        for k in (1, 5):
            ratio = after[k] / before[k] if before[k] else float("inf")
            print(f"  top-{k} before {before[k]:.3f}, after {after[k]:.3f} (ratio {ratio:.2f}x)")
        new, old = job["result"]["test"], job["result"]["test_baseline"]
        print(
            f"gate (retrieval among the test individuals' confirmed sightings, "
            f"{new['queries']} queries): top-1 {old['top1']:.3f} -> {new['top1']:.3f}, "
            f"top-5 {old['top5']:.3f} -> {new['top5']:.3f}; promoted: {job['result']['promoted']}"
        )
    print(f"embed job {embed_s:.1f} s for {len(truth)} boxes; suggest {suggest_ms:.1f} ms per box")


def _suggestions(
    project: Project,
    ids: list[int],
    boxes: dict[int, list[int]],
    queried: set[int],
    gallery: int,
) -> tuple[dict[int, float], float]:
    """Top-1/top-5 of the suggestions (through the promoted projection, if any) for the
    query photos of the ``queried`` animals, and milliseconds per suggestion."""
    hits = {1: 0, 5: 0}
    queries = 0
    started = time.perf_counter()
    with project.db.session() as s:
        projection = champion_projection(s, project, DEFAULT_KEY)
        for i in sorted(queried):
            for box_id in boxes[i][gallery:]:
                ranked = [c.individual_id for c in suggest(s, DEFAULT_KEY, box_id, 5, projection)]
                queries += 1
                hits[1] += ranked[:1] == [ids[i]]
                hits[5] += ids[i] in ranked
    elapsed = (time.perf_counter() - started) * 1000 / max(queries, 1)
    return {k: v / max(queries, 1) for k, v in hits.items()}, elapsed


if __name__ == "__main__":
    main()
