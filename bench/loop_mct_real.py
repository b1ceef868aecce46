"""The whole loop on real photos: mct-real (826 Reconyx frames, 20 species, 60 sequences).

Imports ../shared/data/mct-real/coco_ct.json into a fresh project (splits by sequence),
runs ``--rounds`` loops (round 1 trains from --base or the model yaml; later rounds
fine-tune the champion), and prints for every round the per-class AP on the frozen test
snapshot, the bootstrap interval against the champion and the gate's decision. As a
cross-check it also runs Ultralytics' own validator on the same test items
(``model.val``; conf 0.001 where wildloop scores stored predictions, conf >= 0.05).

CPU run that fits a shared 2-core machine:
    python bench/loop_mct_real.py --epochs 5 --imgsz 320
GPU run (one command):
    python bench/loop_mct_real.py --epochs 100 --imgsz 640 --batch 32 --device 0 --rounds 2
Start from pretrained weights you copied here (no downloads):
    python bench/loop_mct_real.py --base /path/to/yolov8n.pt --epochs 30
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

from wildloop.composition import register_job_kinds
from wildloop.datasets.label_import import import_labels, read_dataset
from wildloop.project import Project
from wildloop.registry.versions import get_version, verified_artifact
from wildloop.training.loop import run_loop
from wildloop.training.loop_job import LoopStep

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mct-real"


def ultralytics_val(
    project: Project, model_id: int, test_snapshot: int, imgsz: int, device: str
) -> dict:
    """Ultralytics' validator on the same test items (via a YOLO export of them)."""
    from ultralytics import YOLO

    from wildloop.datasets.snapshots import load_snapshot

    data = load_snapshot(project, test_snapshot)
    root = Path(tempfile.mkdtemp(prefix="mct-val-"))
    index = {c.id: i for i, c in enumerate(data.classes)}
    for e in data.entries:
        (root / "images" / "val").mkdir(parents=True, exist_ok=True)
        (root / "labels" / "val").mkdir(parents=True, exist_ok=True)
        name = f"{e.media_id:08d}_{e.path.name}"
        (root / "images" / "val" / name).symlink_to(e.path)
        (root / "labels" / "val" / (Path(name).stem + ".txt")).write_text(
            "".join(
                f"{index[t.class_id]} " + " ".join(f"{v:.6f}" for v in t.box.to_yolo()) + "\n"
                for t in e.targets
            )
        )
    names = "\n".join(f"  {i}: {json.dumps(c.name)}" for i, c in enumerate(data.classes))
    (root / "data.yaml").write_text(
        f"path: {root}\ntrain: images/val\nval: images/val\nnames:\n{names}\n"
    )
    with project.db.session() as session:
        weights = verified_artifact(project, get_version(session, model_id), "pt")
    started = time.perf_counter()
    metrics = YOLO(str(weights)).val(
        data=str(root / "data.yaml"),
        imgsz=imgsz,
        device=device or "cpu",
        plots=False,
        verbose=False,
        batch=16,
        workers=0,
    )
    seconds = time.perf_counter() - started
    shutil.rmtree(root, ignore_errors=True)
    return {
        "map50": float(metrics.box.map50),
        "map50_95": float(metrics.box.map),
        "seconds": seconds,
    }


def main() -> None:
    register_job_kinds()  # this process runs the jobs it submits
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="")
    parser.add_argument("--base", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--store-threshold",
        type=float,
        default=None,
        help="lowest stored confidence (default 0.05; 0.001 is what Ultralytics val scores)",
    )
    parser.add_argument("--project", type=Path, default=None, help="keep the project here")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    root = args.project or Path(tempfile.mkdtemp(prefix="wildloop-mct-"))
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty")
    coco = json.loads((args.data / "coco_ct.json").read_text())
    classes = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
    project = Project.init(root, "mct-real", classes)
    if args.store_threshold is not None:
        project.config.thresholds.store = args.store_threshold
        project.save_config()
    started = time.perf_counter()
    report = import_labels(project, read_dataset(args.data / "coco_ct.json"))
    print(
        f"imported {report.labelled} labelled frames ({report.boxes} boxes, {report.empty} empty) "
        f"in {time.perf_counter() - started:.1f}s; failed {len(report.failed)}"
    )
    import torch

    device_text = args.device or ("cuda:0" if torch.cuda.is_available() else "cpu")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU run)"
    print(f"device: {device_text} ({gpu}); torch threads {torch.get_num_threads()}")
    overrides = {
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "batch": args.batch,
        "device": args.device,
        "workers": args.workers,
    }
    figures: dict = {
        "rounds": [],
        "device": device_text,
        "gpu": gpu,
        "args": vars(args)
        | {
            "project": str(root),
            "base": str(args.base) if args.base else None,
            "data": str(args.data),
            "json": str(args.json) if args.json else None,
        },
    }
    for round_no in range(1, args.rounds + 1):
        print(f"\n=== round {round_no} ===")

        def show(step: LoopStep) -> None:
            print(f"{step.name:<9} {step.status:<8} {step.seconds:8.1f}s  {step.detail[:150]}")

        result = run_loop(
            project,
            base=args.base if round_no == 1 else None,
            overrides=overrides,
            reprocess=False,
            on_step=show,
        )
        steps = {s.name: s for s in result.steps}
        comparison = steps["evaluate"].data
        print(f"\nper-class AP on {comparison['snapshot']} (test split; classes with test boxes):")
        print(f"{'class':<20} {'boxes':>5} {'AP50':>7} {'AP50-95':>8} {'champion AP50-95':>17}")
        challenger_metrics = None
        from wildloop.evaluation.evaluator import stored_evaluations

        for record in stored_evaluations(project, result.challenger_id):
            if record.snapshot_id == comparison["snapshot_id"]:
                challenger_metrics = record.metrics
        assert challenger_metrics is not None
        for row in comparison["classes"]:
            if not row["truth_boxes"]:
                continue
            c = challenger_metrics["per_class"][row["class"]]
            old = row["champion_ap50_95"]
            old_text = "-" if old is None else f"{old:.4f}"
            print(
                f"{row['class']:<20} {row['truth_boxes']:>5} {c['ap50']:>7.4f} "
                f"{c['ap50_95']:>8.4f} {old_text:>17}"
            )
        summary = comparison["challenger"]
        print(f"{'mean':<20} {'':>5} {summary['map50']:>7.4f} {summary['map50_95']:>8.4f}")
        interval = comparison["map50_95_difference_interval"]
        if interval:
            print(
                "bootstrap 95% interval of the mAP50-95 difference "
                f"({interval['samples']} resamples of {interval['resampled_sequences']} test "
                f"sequences): [{interval['low']:+.4f}, {interval['high']:+.4f}]"
            )
        decision = comparison["decision"]
        print(
            "gate: "
            + ("PROMOTE" if decision["promote"] else "REFUSE")
            + " - "
            + "; ".join(decision["reasons"])
        )
        reference = ultralytics_val(
            project, result.challenger_id, comparison["snapshot_id"], args.imgsz, args.device
        )
        print(
            f"cross-check, Ultralytics val on the same test items: mAP50 {reference['map50']:.4f}, "
            f"mAP50-95 {reference['map50_95']:.4f} ({reference['seconds']:.1f}s)"
        )
        figures["rounds"].append(
            {
                "round": round_no,
                "steps": [s.as_dict() | {"data": None} for s in result.steps],
                "challenger": summary,
                "per_class": {
                    k: v for k, v in challenger_metrics["per_class"].items() if v["truth_boxes"]
                },
                "interval": interval,
                "decision": decision,
                "ultralytics_val": reference,
            }
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    if args.project is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
