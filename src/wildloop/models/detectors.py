"""Loading a registered version's runtime: the registry verifies the file, inference runs it."""

from __future__ import annotations

from wildloop.inference import runtime as runtimes
from wildloop.project import Project
from wildloop.registry.versions import artifact_sha256, verified_artifact
from wildloop.store.tables import ModelVersion


def load_detector(
    project: Project, version: ModelVersion, choice: runtimes.RuntimeChoice, threads: int = 0
) -> runtimes.DetectorRuntime:
    """The runtime for ``version`` (hash-verified before the first load; cached after)."""
    fmt = choice.artifact_format
    return runtimes.load(
        artifact_sha256(version, fmt),
        choice,
        lambda: verified_artifact(project, version, fmt),
        threads=threads,
    )
