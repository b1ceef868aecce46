"""Bounded field types for everything the web takes in: path, query and body.

Every integer is checked against the column it reaches, so an out-of-range number is a 422
that names the field, not an overflow inside the database driver (a 500). Floats must be
finite: Python's JSON parser accepts ``NaN`` and ``Infinity``, which no box or score means.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

from wildloop.store.types import MAX_ID, MAX_INTEGER

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row id (media, prediction, model version, token)."""

RevisionNumber = Annotated[int, Field(ge=0, le=MAX_INTEGER)]
"""A label revision as stored on ``media.label_revision`` (0: never labelled)."""

Finite = Annotated[float, Field(allow_inf_nan=False)]

MediaIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="media item id")]
TokenIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="API token id")]
