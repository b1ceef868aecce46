"""A content-addressed store for model files inside the project.

Files are named by their sha256, written atomically, made read-only, and their hash is
checked again before every load, so a file changed on disk (by accident or on purpose) is
refused instead of silently serving a different model.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from wildloop.atomic import atomic_open
from wildloop.errors import IntegrityError, NotFound

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


class ArtifactStore:
    """``root/sha256/<first two hex>/<hash>.<ext>``; one file per distinct content."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str, fmt: str) -> Path:
        return self.root / "sha256" / sha256[:2] / f"{sha256}.{fmt}"

    def put(self, source: Path, fmt: str) -> str:
        """Copy ``source`` into the store (atomically, read-only) and return its sha256.

        Storing the same content twice is a no-op; the hash is computed from the bytes
        actually written, so a file that changes while being copied cannot slip in.
        """
        digest = hashlib.sha256()
        tmp_target = self.root / "incoming"
        tmp_target.mkdir(parents=True, exist_ok=True)
        staged = tmp_target / f"{os.getpid()}-{source.name}"
        with atomic_open(staged) as out, source.open("rb") as fh:
            while block := fh.read(_CHUNK):
                digest.update(block)
                out.write(block)
        sha = digest.hexdigest()
        final = self.path_of(sha, fmt)
        if final.exists():
            staged.unlink()
            self.verify(sha, fmt)
            return sha
        final.parent.mkdir(parents=True, exist_ok=True)
        staged.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        staged.replace(final)
        return sha

    def verify(self, sha256: str, fmt: str) -> Path:
        """The stored file's path, after checking its bytes still hash to ``sha256``."""
        path = self.path_of(sha256, fmt)
        if not path.is_file():
            raise NotFound(
                f"model artifact {sha256[:12]}… ({fmt}) is missing from {self.root}; "
                "restore the project's artifacts folder from a backup"
            )
        actual = sha256_file(path)
        if actual != sha256:
            raise IntegrityError(
                f"model artifact {path} was modified on disk: its sha256 is {actual[:12]}…, "
                f"the registry recorded {sha256[:12]}…; refusing to load it. Restore the file "
                "from a backup or register the model again as a new version"
            )
        return path
