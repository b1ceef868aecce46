"""`wildloop user ...` and `wildloop token ...`: accounts and API tokens from the server.

This is how the first admin is made: the CLI runs on the server with access to the project,
so it needs no login.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from wildloop.cli.options import JsonOption, ProjectOption, open_project
from wildloop.cli.output import console, print_json
from wildloop.errors import BadInput, NotFound
from wildloop.users import accounts, tokens
from wildloop.users.roles import Actor, Role

user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens for scripts.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInput("no password on standard input")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Username.")],
    role: Annotated[
        str,
        typer.Option(
            help="admin, reviewer, viewer or uploader (a field device: upload and model pull only)."
        ),
    ] = "reviewer",
    password_stdin: PasswordStdin = False,
    project: ProjectOption = None,
) -> None:
    """Create an account (the first admin: `wildloop user add NAME --role admin`)."""
    password = _password(password_stdin)
    with open_project(project) as proj, proj.db.session() as session:
        account = accounts.create_user(session, name, role, password)
    console.print(f"Added {account.username} ({account.role}).")


@user_app.command("list")
def list_users(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List accounts."""
    with open_project(project) as proj, proj.db.session() as session:
        users = accounts.list_users(session)
    if as_json:
        print_json([u.__dict__ for u in users])
        return
    table = Table("user", "role", "can log in", "disabled")
    for u in users:
        table.add_row(
            u.username, u.role, "yes" if u.can_log_in else "no", "yes" if u.disabled else ""
        )
    console.print(table)


@user_app.command("set")
def set_user(
    name: Annotated[str, typer.Argument(help="Username.")],
    role: Annotated[str | None, typer.Option(help="New role.")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Set a new password (prompted).")
    ] = False,
    password_stdin: PasswordStdin = False,
    disable: Annotated[bool | None, typer.Option("--disable/--enable")] = None,
    project: ProjectOption = None,
) -> None:
    """Change a user's role, password or disabled state."""
    new_password = _password(password_stdin) if password or password_stdin else None
    with open_project(project) as proj, proj.db.session() as session:
        account = accounts.update_user(
            session, name, by=None, role=role, password=new_password, disabled=disable
        )
    console.print(f"{account.username}: {account.role}{' (disabled)' if account.disabled else ''}")


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. nightly-export.")],
    user: Annotated[str, typer.Option(help="The user the token acts as.")],
    project: ProjectOption = None,
) -> None:
    """Create an API token; it is printed once, store it safely."""
    with open_project(project) as proj, proj.db.session() as session:
        owner = next((u for u in accounts.list_users(session) if u.username == user), None)
        if owner is None or not owner.can_log_in:
            raise NotFound(f"no user {user!r} with a login; add one with `wildloop user add`")
        actor = Actor(id=owner.id, username=owner.username, role=Role(owner.role))
        _info, plain = tokens.create_token(session, actor, name)
    sys.stdout.write(plain + "\n")


@token_app.command("revoke")
def revoke_token(
    token_id: Annotated[int, typer.Argument(help="Token id (see `wildloop token list`).")],
    project: ProjectOption = None,
) -> None:
    """Revoke a token."""
    with open_project(project) as proj, proj.db.session() as session:
        admin = Actor(id=0, username="cli", role=Role.ADMIN)
        info = tokens.revoke_token(session, admin, token_id)
    console.print(f"revoked token {info.id} ({info.name}) of {info.username}")


@token_app.command("list")
def list_tokens(project: ProjectOption = None) -> None:
    """List every token (never the secret itself)."""
    with open_project(project) as proj, proj.db.session() as session:
        admin = Actor(id=0, username="cli", role=Role.ADMIN)
        rows = tokens.list_tokens(session, admin)
    table = Table("id", "name", "user", "created", "last used", "revoked")
    for t in rows:
        table.add_row(
            str(t.id),
            t.name,
            t.username,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "",
            "yes" if t.revoked else "",
        )
    console.print(table)
