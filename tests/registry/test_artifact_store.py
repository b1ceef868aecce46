"""Artifact stores for many machines: a shared store read through a per-worker cache that is
hash-checked before every load, and media paths mapped per machine."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from wildloop.domain.paths import map_root
from wildloop.errors import IntegrityError, NotFound
from wildloop.project import Project
from wildloop.registry.artifacts import DirectoryStore, RemoteStore, open_store, sha256_file
from wildloop.registry.versions import Provenance, register_head, verified_artifact

pytest.importorskip("fsspec", reason="URL artifact stores need fsspec (the scale extra)")


def _overwrite(path: Path, data: bytes) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(data)


def test_a_worker_fetches_into_its_cache_and_refuses_changed_bytes(tmp_path: Path) -> None:
    shared = f"file://{tmp_path / 'shared'}"
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights" * 1000)
    server = RemoteStore(shared, DirectoryStore(tmp_path / "server-cache"))
    sha = server.put(model, "onnx")
    assert sha == sha256_file(model)
    remote = tmp_path / "shared" / "sha256" / sha[:2] / f"{sha}.onnx"
    assert remote.read_bytes() == model.read_bytes()

    worker = RemoteStore(shared, DirectoryStore(tmp_path / "worker-cache"))
    loaded = worker.verify(sha, "onnx")
    assert loaded.is_relative_to(tmp_path / "worker-cache")
    assert sha256_file(loaded) == sha
    _overwrite(loaded, b"damaged")  # a damaged cache entry is fetched again
    assert sha256_file(worker.verify(sha, "onnx")) == sha

    _overwrite(remote, b"tampered")  # the shared copy changed: no machine loads it
    fresh = RemoteStore(shared, DirectoryStore(tmp_path / "other-cache"))
    with pytest.raises(IntegrityError, match="registry recorded"):
        fresh.verify(sha, "onnx")
    assert not (tmp_path / "other-cache" / "sha256" / sha[:2] / f"{sha}.onnx").exists()
    with pytest.raises(NotFound):
        fresh.verify("0" * 64, "onnx")


def test_store_is_chosen_by_url(tmp_path: Path) -> None:
    assert isinstance(open_store("", tmp_path / "a", tmp_path / "c"), DirectoryStore)
    nfs = open_store(str(tmp_path / "nfs"), tmp_path / "a", tmp_path / "c")
    assert isinstance(nfs, DirectoryStore) and nfs.root == tmp_path / "nfs"
    assert isinstance(open_store("memory://wl", tmp_path / "a", tmp_path / "c"), RemoteStore)


def test_registered_version_loads_on_another_machine_through_the_store(
    project: Project, tmp_path: Path
) -> None:
    project.config.storage.artifacts_url = f"file://{tmp_path / 'shared'}"
    head = tmp_path / "head.npz"
    head.write_bytes(b"head-weights")
    version = register_head(
        project, head, "h1", task="audio-head", fmt="npz", classes=["a"], provenance=Provenance()
    )
    assert not list((project.root / "artifacts").rglob("*.npz"))  # not in the project folder
    project.config.storage.cache_dir = str(tmp_path / "gpu-box")  # another machine's cache
    loaded = verified_artifact(project, version, "npz")
    assert loaded.is_relative_to(tmp_path / "gpu-box")
    assert loaded.read_bytes() == b"head-weights"


def test_media_roots_map_whole_path_parts_longest_first() -> None:
    roots = {"/mnt/cards": "/data/cards", "/mnt/cards/site7": "/fast/site7"}
    assert map_root(Path("/mnt/cards/a/1.jpg"), roots) == Path("/data/cards/a/1.jpg")
    assert map_root(Path("/mnt/cards/site7/2.jpg"), roots) == Path("/fast/site7/2.jpg")
    assert map_root(Path("/mnt/cardsX/3.jpg"), roots) == Path("/mnt/cardsX/3.jpg")
    assert map_root(Path("/other/4.jpg"), {}) == Path("/other/4.jpg")
