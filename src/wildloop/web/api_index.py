"""``GET /api/v1``: what this API is and where to start, for a person or a script exploring it.

Answered without logging in, like the docs it points to; the resources it links to need a
session or a token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from wildloop import __version__

router = APIRouter(tags=["project"])
DOCS_URL = "/api/docs"
OPENAPI_URL = "/api/v1/openapi.json"
RESOURCES = (
    "me",
    "media",
    "marked",
    "dashboard",
    "facets",
    "jobs",
    "models",
    "snapshots",
    "analytics",
)


class IndexOut(BaseModel):
    name: str
    project: str
    version: str
    docs: str
    openapi: str
    resources: dict[str, str]


@router.get("", response_model=IndexOut)
def api_index(request: Request) -> IndexOut:
    """The API's name and version, and links to its docs, its OpenAPI schema and the main
    resources."""
    return IndexOut(
        name="wildloop",
        project=request.app.state.project.config.name,
        version=__version__,
        docs=DOCS_URL,
        openapi=OPENAPI_URL,
        resources={name: f"/api/v1/{name}" for name in RESOURCES},
    )
