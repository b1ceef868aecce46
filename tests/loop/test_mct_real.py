"""The loop on real photos (mct-real, 826 Reconyx frames), through the real CLI.

Mechanics only: one epoch at a tiny image size cannot detect anything, and that is not the
point. The point is that real, sequence-split photos go in, the test split never reaches
training, every step runs and reports, and the figures are computed and stored honestly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import wildloop
from wildloop.datasets.snapshots import load_snapshot
from wildloop.project import Project

SRC = Path(wildloop.__file__).parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "120", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "wildloop", *args], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_whole_loop_on_mct_real(shared_data: Path, tmp_path: Path, db_url: str) -> None:
    source = shared_data / "mct-real" / "coco_ct.json"
    coco = json.loads(source.read_text())
    classes = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
    project_dir = tmp_path / "mct"
    cli(
        "init",
        str(project_dir),
        "--name",
        "mct-real",
        "--classes",
        ",".join(classes),
        "--database-url",
        db_url,
    )
    cli("import-labels", str(source), "-p", str(project_dir))

    with Project.open(project_dir) as project:
        # Frames of one camera-trap sequence share a split (seq_id is the only grouping).
        seq_of = {
            str((source.parent / i["file_name"]).resolve()): i["seq_id"] for i in coco["images"]
        }
        out = json.loads(
            cli(
                "loop",
                "--epochs",
                "1",
                "--imgsz",
                "64",
                "--batch",
                "16",
                "--device",
                "cpu",
                "--json",
                "-p",
                str(project_dir),
            ).stdout
        )
        steps = {s["step"]: s for s in out["steps"]}
        assert list(steps) == ["snapshot", "train", "evaluate", "gate", "promote", "reprocess"]
        assert all(s["status"] == "done" for s in steps.values()), out
        training = load_snapshot(project, steps["snapshot"]["data"]["training"]["id"])
        test = load_snapshot(project, steps["snapshot"]["data"]["test"]["id"])
        splits_of_seq: dict[str, set[str]] = defaultdict(set)
        for entry in training.entries + test.entries:
            splits_of_seq[seq_of[str(entry.path)]].add(entry.split)
        assert all(len(s) == 1 for s in splits_of_seq.values())
        assert len(training.entries) + len(test.entries) == len(coco["images"])
        assert {e.split for e in training.entries} == {"train", "val"}
        assert not {e.media_id for e in training.entries} & {e.media_id for e in test.entries}
        assert steps["train"]["data"]["start"]["kind"] == "yaml"  # no weights here, said so

        evaluation = steps["evaluate"]["data"]
        challenger = evaluation["challenger"]
        assert evaluation["champion"] is None and out["promoted"]  # first model
        assert 0.0 <= challenger["map50_95"] <= challenger["map50"] <= 1.0
        test_boxes = sum(len(e.targets) for e in test.entries)
        measured = [c for c in evaluation["classes"] if c["truth_boxes"]]
        assert sum(c["truth_boxes"] for c in measured) == test_boxes
        assert steps["reprocess"]["data"]["result"]["items"] == len(coco["images"])

    log = json.loads(cli("retrain-log", "--json", "-p", str(project_dir)).stdout)["rows"]
    assert log[0]["items"] == len(training.entries) and log[0]["test_snapshot"] == test.info.name
    exported = json.loads(
        cli(
            "export",
            "--format",
            "camtrap-dp",
            "--coordinates",
            "9.15,-79.85",
            "--json",
            "-p",
            str(project_dir),
        ).stdout
    )
    assert exported["validation_problems"] == []
