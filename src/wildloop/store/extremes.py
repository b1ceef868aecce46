"""The smaller and the larger of two values in one SQL expression, in each database's words.

SQLite's scalar ``min(a, b)``/``max(a, b)`` and PostgreSQL's ``LEAST``/``GREATEST`` do the
same; a CASE would name each argument twice, and nested (a clipped box's IoU) the expression
grows with every level, which SQLAlchemy then walks on every execution.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class least(FunctionElement[float]):  # noqa: N801 (an SQL function, named like one)
    """``least(a, b)``: the smaller value."""

    type = Float()
    inherit_cache = True
    name = "least"


class greatest(FunctionElement[float]):  # noqa: N801 (an SQL function, named like one)
    """``greatest(a, b)``: the larger value."""

    type = Float()
    inherit_cache = True
    name = "greatest"


@compiles(least, "sqlite")
def _sqlite_least(element: least, compiler: Any, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _sqlite_greatest(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least)
def _least(element: least, compiler: Any, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(greatest)
def _greatest(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"
