"""Likely label errors on real camera-trap photos: planted wrong classes, found how well?

mct-real (/work/shared/data/mct-real: 826 Reconyx frames, 711 hand-drawn boxes, 20 species,
60 sequences) is imported through the product (``crop_classifier.mct_project``: labels
reviewed, splits frozen by sequence). 5% of the reviewed boxes (``--rate``) get another
species at random, then:

1. the product: the ``label-issues`` job, end to end (the boxes embedded by the
   ``individual-embed`` job with the bundled int8 MobileNet, out-of-fold probabilities with
   folds by box, cleanlab), for the first seed; its stored issues are scored against the flips;
2. per seed (``--seeds``), on the same stored vectors (``curation.confident``, the test split
   scored by a head fitted on the rest), two kinds of planted error: single boxes at random,
   and whole non-test bursts (every frame of a sequence given one wrong species, as a slip
   with "label the whole event" would), each judged with folds by box and by burst.
   cleanlab's issues (``find_label_issues``, ranked by label quality) versus the baseline:
   every box ranked by the plain out-of-fold probability of its given class.

Figures: precision and recall of cleanlab's flagged set at the number it flags, the
baseline's at that same number, and precision@k for k = number planted (R-precision) and
k = 2x that. Only boxes of classes with two or more non-test boxes are judged (as the job
does); chance precision is the flip rate.

    python bench/label_issues_mct.py [--seeds 5] [--rate 0.05]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from crop_classifier import mct_project
from wildloop.composition import register_job_kinds
from wildloop.crops.embedder import crop_embedder_key
from wildloop.crops.vectors import label_box_vectors
from wildloop.curation.confident import label_issues, out_of_fold_probabilities
from wildloop.curation.label_issues import list_issues, reviewed_boxes
from wildloop.curation.label_issues_job import common_classes, submit_label_issues
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.review.labels import current_labels, save_labels

Key = tuple[int, int]  # (media id, box index): survives the new revision a flip writes


def plant(
    project: Project, rate: float, rng: np.random.Generator
) -> tuple[dict[Key, int], set[Key]]:
    """Give ``rate`` of the reviewed boxes another project class (saved as a new revision by
    'flipper'); returns every box's true class and the flipped boxes."""
    with project.db.session() as session:
        boxes = reviewed_boxes(session)
    truth = {(b.media_id, b.box_index): b.class_id for b in boxes}
    class_ids = [c.id for c in project.classes]
    chosen = rng.choice(len(boxes), size=round(rate * len(boxes)), replace=False)
    flipper = project.author("flipper")
    for i in sorted(chosen.tolist()):
        b = boxes[i]
        with project.db.session() as session:
            labels = current_labels(session, b.media_id)
            assert labels is not None
            new = list(labels.boxes)
            other = int(rng.choice([c for c in class_ids if c != b.class_id]))
            new[b.box_index] = type(new[b.box_index])(
                **{**new[b.box_index].__dict__, "class_id": other}
            )
            save_labels(
                session,
                b.media_id,
                type(labels)(boxes=tuple(new), empty=labels.empty, note=labels.note),
                author_id=flipper,
                classes=project.classes,
                expected_revision=b.revision,
            )
    return truth, {(boxes[i].media_id, boxes[i].box_index) for i in chosen.tolist()}


def scores(
    found: list[Key], ranked: list[Key], flipped: set[Key], flagged: int
) -> dict[str, float]:
    """Precision/recall of ``found`` (a flagged set) and of the top ``flagged`` of ``ranked``,
    and precision@k of ``ranked``."""
    n = len(flipped)
    hits = len(set(found) & flipped)
    top = set(ranked[:flagged])
    return {
        "flagged": len(found),
        "precision": hits / max(1, len(found)),
        "recall": hits / max(1, n),
        "base_precision": len(top & flipped) / max(1, flagged),
        "base_recall": len(top & flipped) / max(1, n),
    }


def precision_at(ranked: list[Key], flipped: set[Key], k: int) -> float:
    return len(set(ranked[:k]) & flipped) / max(1, k)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.05)
    args = parser.parse_args()
    register_job_kinds()
    with tempfile.TemporaryDirectory() as tmp:
        project = mct_project(Path(tmp) / "mct")
        truth, flipped0 = plant(project, args.rate, np.random.default_rng(0))
        print(f"{len(truth)} reviewed boxes, {len(flipped0)} flipped (seed 0); {load()}")

        # 1. The product's job, end to end.
        started = time.perf_counter()
        status = run_job(project, submit_label_issues(project))
        took = time.perf_counter() - started
        assert status["state"] == "succeeded", status
        with project.db.session() as session:
            issues = list_issues(session, project.classes, limit=100_000)
        found = [(i.media_id, _index(project, i.label_box_id)) for i in issues]
        judged = _judged(project, flipped0)
        n = len(judged)
        hits = len(set(found) & judged)
        print(
            f"job     : {status['result']['issues']} flagged of {status['result']['boxes']} boxes; "
            f"precision {hits / max(1, len(found)):.3f} recall {hits / max(1, n):.3f} "
            f"({hits}/{n} planted found); P@{n} {precision_at(found, judged, n):.3f}; "
            f"job {took:.1f} s (embedding included); {load()}",
            flush=True,
        )

        # 2. Seeds on the stored vectors: cleanlab versus the plain probability of the label.
        key = crop_embedder_key(project)
        with project.db.session() as session:
            current = reviewed_boxes(session)
            vectors = label_box_vectors(session, key, [b.label_box_id for b in current])
        rows = {(b.media_id, b.box_index): b for b in current}
        table = []
        for seed in range(args.seeds):
            table.extend(_seed(project, rows, vectors, truth, args.rate, seed))
        _summary(table)


def _judged(project: Project, flipped: set[Key]) -> set[Key]:
    """The flipped boxes the job judges (its classes with two or more non-test boxes)."""
    with project.db.session() as session:
        usable = {(b.media_id, b.box_index) for b in common_classes(reviewed_boxes(session))}
    return flipped & usable


def _index(project: Project, label_box_id: int) -> int:
    with project.db.session() as session:
        for b in reviewed_boxes(session):
            if b.label_box_id == label_box_id:
                return b.box_index
    return -1


def _seed(project, rows, vectors, truth, rate, seed) -> list[dict]:  # type: ignore[no-untyped-def]
    """One seed: random single-box flips and whole-burst flips, each judged with folds by
    box (the product's default) and by burst."""
    rng = np.random.default_rng(1000 + seed)
    keys = sorted(k for k in rows if rows[k].label_box_id in vectors)
    class_ids = [c.id for c in project.classes]
    picked = rng.choice(len(keys), size=round(rate * len(keys)), replace=False)
    plants = {"box": {keys[i] for i in picked.tolist()}, "burst": set()}
    bursts: dict[str, list[Key]] = {}
    for k in keys:
        if rows[k].split != "test":
            bursts.setdefault(rows[k].group, []).append(k)
    for group in rng.permutation(sorted(bursts)).tolist():
        if len(plants["burst"]) >= rate * len(keys):
            break
        plants["burst"] |= set(bursts[group])
    out = []
    for errors, flips in plants.items():
        other = {}
        for k in sorted(flips):  # a burst's frames all get the same wrong class
            g = rows[k].group if errors == "burst" else k
            if g not in other:
                other[g] = int(rng.choice([c for c in class_ids if c != truth[k]]))
        given = {
            k: other[rows[k].group if errors == "burst" else k] if k in flips else truth[k]
            for k in keys
        }
        boxes = [rows[k].__class__(**{**rows[k].__dict__, "class_id": given[k]}) for k in keys]
        usable = common_classes(boxes)
        kept = [(b.media_id, b.box_index) for b in usable]
        flipped = flips & set(kept)
        column = {c: i for i, c in enumerate(sorted({b.class_id for b in usable}))}
        labels = np.array([column[b.class_id] for b in usable])
        x = np.stack([vectors[rows[k].label_box_id] for k in kept])
        for folds in ("box", "burst"):
            started = time.perf_counter()
            probs = out_of_fold_probabilities(
                x,
                labels,
                len(column),
                groups=[b.group for b in usable] if folds == "burst" else None,
                held_out=np.array([b.split == "test" for b in usable]),
                seed=seed,
            )
            took = time.perf_counter() - started
            given_p = probs[np.arange(len(kept)), labels]
            baseline = [kept[i] for i in np.argsort(given_p, kind="stable")]
            found = [kept[i.row] for i in label_issues(labels, probs)]
            n = len(flipped)
            row = {"seed": seed, "errors": errors, "folds": folds, "planted": n, "fit_s": took}
            row |= scores(found, baseline, flipped, len(found))
            row |= {
                "p@n": precision_at(found, flipped, n),
                "p@2n": precision_at(found, flipped, 2 * n),
                "base_p@n": precision_at(baseline, flipped, n),
                "base_p@2n": precision_at(baseline, flipped, 2 * n),
            }
            print(
                f"seed {seed} {errors:>5} errors, folds by {folds:>5}: {len(kept)} boxes, {n} "
                f"planted; cleanlab flags {row['flagged']}: precision {row['precision']:.3f} "
                f"recall {row['recall']:.3f} | baseline top-{row['flagged']}: precision "
                f"{row['base_precision']:.3f} recall {row['base_recall']:.3f} | P@{n} "
                f"{row['p@n']:.3f} vs {row['base_p@n']:.3f} | P@{2 * n} {row['p@2n']:.3f} vs "
                f"{row['base_p@2n']:.3f}; folds {took:.1f} s; {load()}",
                flush=True,
            )
            out.append(row)
    return out


def _summary(table: list[dict]) -> None:  # type: ignore[type-arg]
    print("\nmean ± sd over seeds (cleanlab vs baseline = ranking by p(given); chance = rate):")
    for errors in ("box", "burst"):
        for folds in ("box", "burst"):
            rows = [r for r in table if r["errors"] == errors and r["folds"] == folds]

            def mean(k: str, rows: list = rows) -> str:  # type: ignore[type-arg]
                values = [r[k] for r in rows]
                return f"{np.mean(values):.3f}±{np.std(values):.3f}"

            print(
                f"  {errors:>5} errors, folds by {folds:>5}: flagged {mean('flagged')}, "
                f"precision {mean('precision')} (baseline {mean('base_precision')}), recall "
                f"{mean('recall')} (baseline {mean('base_recall')}); P@n {mean('p@n')} "
                f"(baseline {mean('base_p@n')}); P@2n {mean('p@2n')} (baseline "
                f"{mean('base_p@2n')})"
            )
    box = [r for r in table if r["errors"] == "box" and r["folds"] == "box"]
    ratio = np.mean([r["p@n"] for r in box]) / max(1e-9, np.mean([r["base_p@n"] for r in box]))
    print(f"  product default (folds by box), P@n cleanlab / baseline: {ratio:.2f}; {load()}")


if __name__ == "__main__":
    main()
