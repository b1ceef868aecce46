"""Roles and what each may do: one table, checked by the services themselves.

The services check, not the routes, so the CLI, the JSON API and the pages refuse the same
things with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wildloop.errors import BadInput, PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


ROLES = tuple(r.value for r in Role)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in person, a token's owner, or a CLI user."""

    id: int
    username: str
    role: Role

    @property
    def can_write(self) -> bool:
        return self.role in (Role.ADMIN, Role.REVIEWER)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def require_writer(actor: Actor) -> None:
    """Refuse viewers: labels, marks and notes need the reviewer or admin role."""
    if not actor.can_write:
        raise PermissionDenied(
            f"{actor.username} has the {actor.role} role, which can only look; "
            "ask an admin for the reviewer role to change labels"
        )


def require_admin(actor: Actor, what: str = "manage users") -> None:
    """Refuse anyone but admins; ``what`` they tried is named in the message."""
    if not actor.is_admin:
        raise PermissionDenied(f"only admins can {what}; {actor.username} is {actor.role}")


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise BadInput(f"unknown role {value!r}; use one of {', '.join(ROLES)}") from None
