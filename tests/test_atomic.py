"""Atomic writes from many threads at once: each write lands whole, none fails, no temp file
is left behind (two requests for one thumbnail write the same path at the same time)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wildloop.atomic import write_bytes_atomic


def test_threads_writing_one_path_each_land_a_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "shared" / "thumb.jpg"
    contents = [bytes([n]) * 200_000 for n in range(8)]

    def write(n: int) -> None:
        for _ in range(15):
            write_bytes_atomic(target, contents[n])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))  # re-raises any writer's error
    assert target.read_bytes() in contents
    assert [p.name for p in target.parent.iterdir()] == ["thumb.jpg"]
