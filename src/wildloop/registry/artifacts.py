"""Content-addressed stores for model files: a directory, or a shared store and a cache.

Files are named by their sha256, written atomically, made read-only, and their hash is
checked again before every load, so a file changed on disk (by accident or on purpose) is
refused instead of silently serving a different model.

Two stores behind one :class:`ArtifactStore` protocol, chosen by ``storage.artifacts_url``:

- :class:`DirectoryStore`: a folder (the project's ``artifacts/``, or an NFS mount that every
  worker sees at the same path); loads read it in place.
- :class:`RemoteStore`: any fsspec URL (``s3://bucket/wildloop``, ``file:///mnt/nfs/...``)
  with a per-worker :class:`DirectoryStore` as cache: a load fetches the file once into the
  cache and verifies the cached copy's sha256 before every load, so every machine runs exactly
  the registered bytes however the file travelled.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any, Protocol

from wildloop.atomic import atomic_open
from wildloop.errors import BadInput, IntegrityError, NotFound

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def relative_name(sha256: str, fmt: str) -> str:
    """``sha256/<first two hex>/<hash>.<ext>``: the same layout in every store."""
    return f"sha256/{sha256[:2]}/{sha256}.{fmt}"


class ArtifactStore(Protocol):
    def put(self, source: Path, fmt: str) -> str:
        """Store ``source``'s bytes; returns their sha256 (storing twice is a no-op)."""

    def verify(self, sha256: str, fmt: str) -> Path:
        """A local path to the file, whose bytes were checked to hash to ``sha256`` now."""


class DirectoryStore:
    """``root/sha256/<first two hex>/<hash>.<ext>``; one file per distinct content."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str, fmt: str) -> Path:
        return self.root / relative_name(sha256, fmt)

    def put(self, source: Path, fmt: str) -> str:
        """Copy ``source`` into the store (atomically, read-only) and return its sha256.

        The hash is computed from the bytes actually written, so a file that changes while
        being copied cannot slip in.
        """
        with source.open("rb") as fh:
            return self.put_stream(fh, fmt, source.name)

    def put_stream(self, stream: Any, fmt: str, label: str, expect: str | None = None) -> str:
        """Store the bytes read from ``stream``; with ``expect``, refuse other bytes."""
        digest = hashlib.sha256()
        staging = self.root / "incoming"
        staging.mkdir(parents=True, exist_ok=True)
        staged = staging / f"{os.getpid()}-{label}"
        with atomic_open(staged) as out:
            while block := stream.read(_CHUNK):
                digest.update(block)
                out.write(block)
        sha = digest.hexdigest()
        if expect is not None and sha != expect:
            staged.unlink()
            raise IntegrityError(
                f"model artifact {label} arrived with sha256 {sha[:12]}…, the registry recorded "
                f"{expect[:12]}…; refusing to load it. Check the shared artifact store"
            )
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


class RemoteStore:
    """A shared store at an fsspec URL, read through a local cache directory."""

    def __init__(self, url: str, cache: DirectoryStore) -> None:
        try:
            import fsspec  # type: ignore[import-untyped]  # no stubs
        except ImportError as exc:  # optional: only a URL store needs it
            raise BadInput(
                f"storage.artifacts_url {url!r} needs fsspec: pip install 'wildloop[scale]'"
            ) from exc
        self.url = url.rstrip("/")
        self.fs, self.base = fsspec.core.url_to_fs(self.url)
        self.cache = cache

    def _remote(self, sha256: str, fmt: str) -> str:
        return f"{self.base}/{relative_name(sha256, fmt)}"

    def put(self, source: Path, fmt: str) -> str:
        """Store in the cache first (that fixes the hash), then upload under a temporary name
        and move it in place, so no reader sees a half-written file under its final name."""
        sha = self.cache.put(source, fmt)
        target = self._remote(sha, fmt)
        if not self.fs.exists(target):
            partial = f"{target}.partial-{os.getpid()}"
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(self.cache.path_of(sha, fmt)), partial)
            self.fs.mv(partial, target)
        return sha

    def verify(self, sha256: str, fmt: str) -> Path:
        """The cached copy, hash-checked now; fetched (and checked) first when missing or
        when the cached copy was damaged."""
        cached = self.cache.path_of(sha256, fmt)
        if cached.is_file():
            if sha256_file(cached) == sha256:
                return cached
            cached.chmod(stat.S_IRUSR | stat.S_IWUSR)
            cached.unlink()  # a damaged cache entry: the shared store is the truth
        target = self._remote(sha256, fmt)
        if not self.fs.exists(target):
            raise NotFound(
                f"model artifact {sha256[:12]}… ({fmt}) is missing from {self.url}; "
                "restore it from a backup or register the model again"
            )
        with self.fs.open(target, "rb") as stream:
            self.cache.put_stream(stream, fmt, f"{sha256}.{fmt}", expect=sha256)
        return self.cache.verify(sha256, fmt)


def open_store(url: str, project_artifacts: Path, cache_dir: Path) -> ArtifactStore:
    """The store for ``storage.artifacts_url``: empty for the project's folder, a plain path
    for a directory every machine mounts, any other URL for a shared store plus a cache."""
    if not url:
        return DirectoryStore(project_artifacts)
    if "://" not in url:
        return DirectoryStore(Path(url).expanduser())
    return RemoteStore(url, DirectoryStore(cache_dir))
