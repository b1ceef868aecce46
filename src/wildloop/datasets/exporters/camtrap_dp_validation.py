"""Validating a Camtrap DP export with frictionless, offline.

The package names the published profile and table schemas by URL (as the standard requires),
and the profile pulls in further schemas by ``$ref``. Validation here never goes online:
frictionless gets an HTTP session that answers those URLs from the schema files shipped with
wildloop (TDWG Camtrap DP 1.0.2, MIT) and refuses every other address. Two referenced
documents are not TDWG's: the GeoJSON schema comes from frictionless' own copy, and the
generic Data Package schema is a minimal stand-in, because frictionless checks the Data
Package rules itself.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from wildloop.datasets.exporters.camtrap_dp import SCHEMA_BASE, TABLES
from wildloop.errors import Unavailable

SCHEMA_DIR = Path(__file__).with_name("camtrap_dp_1_0_2")
DATA_PACKAGE_URL = "https://specs.frictionlessdata.io/schemas/data-package.json"
GEOJSON_URL = "http://json.schemastore.org/geojson.json"
_DATA_PACKAGE_STANDIN = {"type": "object", "required": ["resources"]}


def offline_documents(schema_dir: Path = SCHEMA_DIR) -> dict[str, bytes]:
    """URL -> document bytes for everything validating a Camtrap DP 1.0.2 package needs."""
    import frictionless.settings

    docs = {
        f"{SCHEMA_BASE}/camtrap-dp-profile.json": (schema_dir / "camtrap-dp-profile.json"),
        **{
            f"{SCHEMA_BASE}/{t}-table-schema.json": schema_dir / f"{t}-table-schema.json"
            for t in TABLES
        },
    }
    out = {url: path.read_bytes() for url, path in docs.items()}
    out[DATA_PACKAGE_URL] = json.dumps(_DATA_PACKAGE_STANDIN).encode()
    out[GEOJSON_URL] = json.dumps(frictionless.settings.GEOJSON_PROFILE).encode()
    return out


def _offline_session(documents: dict[str, bytes]) -> Any:
    import requests
    from requests.adapters import BaseAdapter
    from urllib3.response import HTTPResponse

    class LocalFiles(BaseAdapter):  # type: ignore[misc]
        def send(self, request: Any, **_: Any) -> requests.Response:
            url = str(request.url)
            if url not in documents:
                raise requests.ConnectionError(
                    f"offline validation: {url} is not one of the bundled schemas"
                )
            response = requests.Response()
            response.status_code = 200
            response.url = url
            response.request = request
            response.raw = HTTPResponse(
                body=io.BytesIO(documents[url]), status=200, preload_content=False
            )
            return response

        def close(self) -> None:
            return None

    session = requests.Session()
    session.mount("http://", LocalFiles())
    session.mount("https://", LocalFiles())
    return session


def validate_camtrap_dp(folder: Path, schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Problems frictionless finds in the package (an empty list means valid)."""
    try:
        import frictionless
    except ImportError as exc:
        raise Unavailable(
            "validating Camtrap DP needs frictionless: pip install 'wildloop[eval]'"
        ) from exc
    session = _offline_session(offline_documents(schema_dir))
    with frictionless.system.use_context(http_session=session):
        try:
            package = frictionless.Package(str(folder / "datapackage.json"))
        except frictionless.FrictionlessException as exc:
            # The descriptor itself breaks the profile: frictionless refuses to load it.
            return [f"package: {e.message}" for e in (exc.reasons or [exc.error])]
        report = package.validate()
    problems = []
    for error in report.errors:
        problems.append(f"package: {error.message}")
    for task in report.tasks:
        for error in task.errors:
            problems.append(f"{task.name}: {error.message}")
    return problems
