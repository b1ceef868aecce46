"""The clock time of a stored timestamp as 'HH:MM:SS' text, in each database's own words.

Filters such as "dawn recordings" compare this text with times of day; SQLite keeps
timestamps as ISO text (``strftime``), PostgreSQL as timestamps (``to_char``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class time_of_day(FunctionElement[str]):  # noqa: N801 (an SQL function, named like one)
    """``time_of_day(column)``: the column's clock time as 'HH:MM:SS'."""

    type = String()
    inherit_cache = True
    name = "time_of_day"


@compiles(time_of_day, "sqlite")
def _sqlite(element: time_of_day, compiler: Any, **kw: Any) -> str:
    return f"strftime('%H:%M:%S', {compiler.process(element.clauses, **kw)})"


@compiles(time_of_day, "postgresql")
def _postgresql(element: time_of_day, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'HH24:MI:SS')"
