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
    # A field device (a Raspberry Pi camera): uploads media and pulls the model, nothing else.
    UPLOADER = "uploader"


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

    @property
    def can_read(self) -> bool:
        return self.role is not Role.UPLOADER

    @property
    def can_upload(self) -> bool:
        return self.role in (Role.ADMIN, Role.REVIEWER, Role.UPLOADER)


def require_writer(actor: Actor) -> None:
    """Refuse viewers: labels, marks and notes need the reviewer or admin role."""
    if not actor.can_write:
        raise PermissionDenied(
            f"{actor.username} has the {actor.role} role, which "
            + (
                "can only upload media and pull the model"
                if not actor.can_read
                else "can only look"
            )
            + "; ask an admin for the reviewer role to change labels"
        )


def require_reader(actor: Actor) -> None:
    """Refuse uploaders: a field device's token sees nothing of the project."""
    if not actor.can_read:
        raise PermissionDenied(
            f"{actor.username} has the uploader role, which can only upload media "
            "(/api/v1/uploads) and pull the champion model (/api/v1/models/champion.onnx)"
        )


def require_uploader(actor: Actor) -> None:
    """Refuse viewers: uploading adds media, which needs the uploader, reviewer or admin role."""
    if not actor.can_upload:
        raise PermissionDenied(
            f"{actor.username} has the {actor.role} role, which cannot add media; "
            "field devices use a token of an account with the uploader role"
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
