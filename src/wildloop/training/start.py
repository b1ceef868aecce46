"""Which weights a training starts from, chosen once and said out loud.

No weights can be downloaded, so the choice is explicit: a base file the user names, else the
champion's own weights (fine-tuning), else the project's configured base file, else a model
architecture from its yaml with random weights, which learns slowly and from nothing. Every
training records which start it used and how a better one could be supplied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wildloop.errors import Unavailable
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import verified_artifact
from wildloop.store.tables import ModelVersion

BETTER_START = (
    "for a better start, copy pretrained detector weights onto this machine (e.g. yolov8n.pt "
    "from the Ultralytics releases, or a MegaDetector .pt) and pass --base PATH, or set "
    "training.base_weights in wildloop.toml"
)


@dataclass(frozen=True)
class Start:
    """``kind`` is base, champion, config or yaml; ``source`` a path or a yaml name."""

    kind: str
    source: str
    parent_id: int | None
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "parent_id": self.parent_id,
            "explanation": self.explanation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Start:
        return cls(data["kind"], data["source"], data.get("parent_id"), data["explanation"])


def choose_start(project: Project, base: Path | None = None) -> Start:
    if base is not None:
        path = base.expanduser().resolve()
        if not path.is_file():
            raise Unavailable(
                f"base weights {path} not found; wildloop never downloads weights: copy the "
                "file onto this machine and pass its path"
            )
        return Start(
            "base", str(path), None, f"fine-tuning the base weights you gave ({path.name})"
        )
    with project.db.session() as session:
        champion_id = aliases.resolve(session, "champion")
        champion = session.get(ModelVersion, champion_id) if champion_id else None
        if champion is not None and champion.artifact_format == "pt":
            return Start(
                "champion",
                str(verified_artifact(project, champion, "pt")),
                champion.id,
                f"fine-tuning the champion {champion.name} (its .pt weights)",
            )
    configured = project.config.training.base_weights
    if configured:
        path = Path(configured).expanduser()
        if not path.is_absolute():
            path = project.root / path
        if not path.is_file():
            raise Unavailable(f"training.base_weights {path} not found; {BETTER_START}")
        return Start(
            "config", str(path.resolve()), None, f"fine-tuning {path.name} (training.base_weights)"
        )
    yaml = project.config.training.model_yaml
    return Start(
        "yaml",
        yaml,
        None,
        f"training {yaml} from random weights: there is no champion .pt and no base weights, "
        f"so expect low scores on small datasets; {BETTER_START}",
    )
