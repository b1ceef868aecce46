"""A field device's client for a wildloop server: upload photos, pull the champion model.

Standard library only (a Raspberry Pi needs nothing installed). Give it a token of an account
with the ``uploader`` role (``wildloop user add pi-north --role uploader``, then ``wildloop
token create --user pi-north``):

    export WILDLOOP_TOKEN=wl_...
    python3 edge_client.py --server http://wildloop.lan:8000 upload /media/card/DCIM --camera north
    python3 edge_client.py --server http://wildloop.lan:8000 pull model.onnx

``upload`` sends every image under a folder in chunks addressed by the file's sha256, so
running it again (after a dropped connection, a reboot, or on the same card) sends only
what the server lacks: a file already ingested costs one request, a half-sent one goes on
from the byte the server holds. ``pull`` downloads the champion's ONNX file only when it
differs from the local copy (``If-None-Match`` with the local file's sha256), checks the
received bytes against ``X-Model-Sha256`` and swaps the file in atomically. Exit status: 0
when every file is on the server and the model is current, 1 when some failed (each is
printed with the server's reason), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

SUFFIXES = (".jpg", ".jpeg", ".png")
CHUNK_BYTES = 1_000_000  # the server's default request body limit
RETRIES = 5


class Server:
    def __init__(self, url: str, token: str, timeout: float = 60) -> None:
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for any HTTP status; raises only when no answer came."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers.items()), err.read()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def upload_file(server: Server, path: Path, camera: str | None, chunk_bytes: int) -> dict[str, Any]:
    """Send one file, resuming where the server stands; the server's last answer (JSON)."""
    sha, size = sha256_of(path), path.stat().st_size
    query = {"name": path.name} | ({"camera": camera} if camera else {})
    url = f"/api/v1/uploads/{sha}?{urllib.parse.urlencode(query)}"
    for attempt in range(RETRIES):
        try:
            return _send(server, path, sha, size, url, chunk_bytes)
        except OSError as exc:  # a dropped connection: ask the server where it stands
            print(f"  {path.name}: {exc}; retrying ({attempt + 1}/{RETRIES})", file=sys.stderr)
            time.sleep(min(2**attempt, 30))
    raise RuntimeError(f"{path.name}: no answer after {RETRIES} tries")


def _send(server: Server, path: Path, sha: str, size: int, url: str, chunk: int) -> dict[str, Any]:
    status, _, body = server.request("GET", f"/api/v1/uploads/{sha}")
    state = _json(status, body)
    if state.get("state") == "exists":
        return state
    offset = int(state["offset"])
    if offset:
        print(f"  {path.name}: resuming at byte {offset} of {size}")
    with path.open("rb") as fh:
        while True:
            fh.seek(offset)
            data = fh.read(chunk)
            rng = f"bytes {offset}-{offset + len(data) - 1}/{size}" if data else f"bytes */{size}"
            headers = {"Content-Range": rng, "Content-Type": "application/octet-stream"}
            status, _, body = server.request("PUT", url, data, headers)
            if status == 409:  # the server holds another offset: the retry asks it again
                raise ConnectionError(f"the server holds another offset than {offset}")
            answer = _json(status, body)
            if answer["state"] != "partial":
                return answer
            offset = int(answer["offset"])


def _json(status: int, body: bytes) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(body or b"{}")
    except ValueError:
        data = {}
    if status >= 400:
        message = data.get("error", {}).get("message") or body[:200].decode(errors="replace")
        raise UploadRefused(f"HTTP {status}: {message}")
    return data


class UploadRefused(Exception):
    """The server answered and refused (a bad file, a wrong token): do not retry."""


def upload_folder(server: Server, folder: Path, camera: str | None, chunk_bytes: int) -> int:
    """Upload every image under ``folder``; returns how many failed (each is printed)."""
    failed = 0
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES):
        try:
            answer = upload_file(server, path, camera, chunk_bytes)
        except (UploadRefused, RuntimeError) as exc:
            failed += 1
            print(f"FAILED {path}: {exc}", file=sys.stderr)
            continue
        job = f", job {answer['job_id']}" if answer.get("job_id") else ""
        print(f"{answer['state']} {path} -> media {answer['media_id']}{job}")
    return failed


def pull_model(server: Server, target: Path, ref: str = "champion") -> bool:
    """Download ``ref``'s ONNX file to ``target`` if it changed; True when it was replaced."""
    headers = {"If-None-Match": f'"{sha256_of(target)}"'} if target.is_file() else {}
    status, got, body = server.request("GET", f"/api/v1/models/{ref}.onnx", None, headers)
    if status == 304:
        print(f"model unchanged ({target})")
        return False
    if status != 200:
        raise UploadRefused(f"HTTP {status}: {_json(status, body)}")
    expected = {k.lower(): v for k, v in got.items()}["x-model-sha256"]
    if hashlib.sha256(body).hexdigest() != expected:
        raise UploadRefused("the model's bytes do not hash to X-Model-Sha256; try again")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    Path(tmp).replace(target)
    name = urllib.parse.unquote({k.lower(): v for k, v in got.items()}["x-model-version"])
    print(f"model {name} ({expected[:12]}) saved to {target}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="e.g. http://wildloop.lan:8000")
    parser.add_argument("--token", default=os.environ.get("WILDLOOP_TOKEN"))
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upload", help="upload every image under a folder")
    up.add_argument("folder", type=Path)
    up.add_argument("--camera", help="camera name (default: the token's account name)")
    up.add_argument("--chunk-bytes", type=int, default=CHUNK_BYTES)
    pull = commands.add_parser("pull", help="download the champion model if it changed")
    pull.add_argument("target", type=Path, help="where the .onnx file lives")
    pull.add_argument("--model", default="champion", help="champion, or a version id or name")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set WILDLOOP_TOKEN")
    server = Server(args.server, args.token)
    try:
        if args.command == "upload":
            return 1 if upload_folder(server, args.folder, args.camera, args.chunk_bytes) else 0
        pull_model(server, args.target, args.model)
    except (UploadRefused, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
