"""`demine user ...` and `demine token ...`: accounts from the server's command line.

The commands act as an admin audited as `cli:<os user>` (survey.accounts.cli_principal),
through the same functions as /api/v1/users. They change data, not the schema: like the
other commands that are not set-up, they refuse a database whose schema is behind.

A password is never an argument (it would stay in the shell's history and in `ps`): it is
asked twice on a terminal, or read from the first line of stdin with --password-stdin.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    import psycopg

    from survey.auth import Principal

user_app = typer.Typer(help="Accounts: add, list, disable, set passwords", no_args_is_help=True)
token_app = typer.Typer(help="Long-lived tokens for field devices and scripts",
                        no_args_is_help=True)

T = TypeVar("T")

PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="read the password from the first line of stdin (no prompt)")]


def _password(from_stdin: bool) -> str:
    from survey.errors import InvalidInput

    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to ask the password on: pipe it in with "
                           "--password-stdin (never put it on the command line)")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("password again: "):
        raise InvalidInput("the two passwords differ: nothing was changed")
    return first


def _show(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table on a terminal; tab-separated lines, whole, for a pipe or a script."""
    from rich.table import Table

    from survey.cli import console

    if not sys.stdout.isatty():
        for row in (header, *rows):
            typer.echo("\t".join(row))
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@contextmanager
def _session(ctx: typer.Context) -> Iterator[tuple[psycopg.Connection, Principal]]:
    """A connection in a transaction on the configured database, and the command line's
    principal; domain errors are reported as the other commands report them."""
    from survey import accounts
    from survey.cli import current_database_url, reported, settings_of
    from survey.store import db

    with reported():
        url = current_database_url(settings_of(ctx))
        with db.connect(url) as conn, conn.transaction():
            yield conn, accounts.cli_principal(getpass.getuser())


def _run(ctx: typer.Context, work: Callable[[psycopg.Connection, Principal], T]) -> T:
    with _session(ctx) as (conn, principal):
        return work(conn, principal)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="3-64 characters: a-z 0-9 . _ @ -")],
    role: Annotated[str, typer.Option(help="admin, coordinator, operator, donor or public")],
    programme: Annotated[str | None, typer.Option(
        help="the programme's code (default: the only one; admins may have none)")] = None,
    organisation: Annotated[str | None, typer.Option(
        help="the organisation's name, acronym or id (operators need one)")] = None,
    donor: Annotated[str | None, typer.Option(
        help="the donor's name or id (donor accounts need one)")] = None,
    full_name: Annotated[str | None, typer.Option(help="default: the username")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account; the password is asked twice (or read with --password-stdin)."""
    from survey import accounts
    from survey.cli import console, reported
    from survey.domain.vocab import Role
    from survey.errors import InvalidInput

    with reported():
        try:
            kind = Role(role)
        except ValueError as exc:
            raise InvalidInput(f"no role {role!r}: one of "
                               + ", ".join(r.value for r in Role)) from exc
        password = _password(password_stdin)

        def add(conn: psycopg.Connection, principal: Principal) -> accounts.Account:
            programme_id = (None if kind == Role.ADMIN and programme is None
                            else accounts.resolve_programme(conn, programme))
            org = donor_id = None
            if organisation is not None or donor is not None:
                if programme_id is None:
                    raise InvalidInput("name the programme of the organisation or donor")
                if organisation is not None:
                    org = accounts.resolve_organisation(conn, programme_id=programme_id,
                                                        ref=organisation)
                if donor is not None:
                    donor_id = accounts.resolve_donor(conn, programme_id=programme_id,
                                                      ref=donor)
            return accounts.add_user(conn, principal=principal, new=accounts.NewUser(
                username=username, full_name=full_name or username, role=kind,
                password=password, programme_id=programme_id, organisation_id=org,
                donor_id=donor_id))

        account = _run(ctx, add)
    console.print(f"user {account.username} ({account.role}) created: {account.id}")


# what the list shows for the ids of programmes, organisations and donors
LABELS = """
SELECT id, code FROM programme
UNION ALL SELECT id, coalesce(acronym, name) FROM organisation
UNION ALL SELECT id, name FROM donor
"""


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    role: Annotated[str | None, typer.Option(help="only this role")] = None,
    disabled: Annotated[bool, typer.Option(
        "--disabled/--active", help="only disabled, or only active, accounts")] = False,
    everyone: Annotated[bool, typer.Option("--all", help="active and disabled")] = False,
) -> None:
    """List the accounts: username, role, programme, organisation, donor, state."""
    from survey import accounts
    from survey.cli import err, reported
    from survey.domain.vocab import Role
    from survey.errors import InvalidInput

    with reported():
        try:
            kind = Role(role) if role else None
        except ValueError as exc:
            raise InvalidInput(f"no role {role!r}") from exc
        filters = accounts.UserFilter(role=kind, active=None if everyone else not disabled)

        def names(conn: psycopg.Connection,
                  principal: Principal) -> tuple[list[accounts.Account], dict[Any, str]]:
            found: list[accounts.Account] = []
            after = None
            while True:
                page = accounts.list_users(conn, principal=principal, filters=filters,
                                           limit=500, after=after)
                found += page.accounts
                if page.next_after is None:
                    return found, dict(conn.execute(LABELS).fetchall())
                after = page.next_after

        found, labels = _run(ctx, names)
    _show(("username", "role", "programme", "organisation", "donor", "state", "id"), [
        (account.username, account.role.value, labels.get(account.programme_id, "-"),
         labels.get(account.organisation_id, "-"), labels.get(account.donor_id, "-"),
         "active" if account.active else "disabled", str(account.id)) for account in found])
    err.print(f"{len(found)} account(s)")


def _set_active(ctx: typer.Context, username: str, active: bool) -> None:
    from survey import accounts
    from survey.cli import console, reported

    def change(conn: psycopg.Connection, principal: Principal) -> accounts.Account:
        return accounts.update_user(conn, principal=principal,
                                    user_id=accounts.resolve_user(conn, username),
                                    changes=accounts.UserChanges(active=active))

    with reported():
        account = _run(ctx, change)
    console.print(f"user {account.username} is "
                  + ("active" if active else "disabled: its tokens are revoked"))


@user_app.command("disable")
def user_disable(ctx: typer.Context,
                 username: Annotated[str, typer.Argument(help="username or id")]) -> None:
    """Disable an account: it can no longer sign in, and every token it holds is revoked."""
    _set_active(ctx, username, False)


@user_app.command("enable")
def user_enable(ctx: typer.Context,
                username: Annotated[str, typer.Argument(help="username or id")]) -> None:
    """Enable a disabled account again (its old tokens stay revoked)."""
    _set_active(ctx, username, True)


@user_app.command("password")
def user_password(ctx: typer.Context,
                  username: Annotated[str, typer.Argument(help="username or id")],
                  password_stdin: PasswordStdin = False) -> None:
    """Set an account's password; its sign-in sessions are revoked (device tokens stay)."""
    from survey import accounts
    from survey.cli import console, reported

    with reported():
        password = _password(password_stdin)

        def change(conn: psycopg.Connection, principal: Principal) -> int:
            return accounts.set_password(conn, principal=principal,
                                         user_id=accounts.resolve_user(conn, username),
                                         password=password)

        revoked = _run(ctx, change)
    console.print(f"password of {username} set; {revoked} session(s) revoked")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="the account the device acts as")],
    name: Annotated[str, typer.Option(help="what holds it, such as 'tablet 7'")],
    days: Annotated[int, typer.Option(help="how long it lasts")] = 365,
) -> None:
    """Create a long-lived token and print it on stdout, this once (it is kept hashed)."""
    from survey import accounts
    from survey.cli import err, reported

    def create(conn: psycopg.Connection, principal: Principal) -> accounts.IssuedToken:
        return accounts.create_token(conn, principal=principal,
                                     user_id=accounts.resolve_user(conn, username),
                                     name=name, days=days)

    with reported():
        issued = _run(ctx, create)
    info = issued.info
    err.print(f"token {info.id} '{info.name}' for {info.username}, expires "
              f"{info.expires_at:%Y-%m-%d}; it is shown this once: keep it now "
              f"(revoke it with `demine token revoke {info.id}`)")
    typer.echo(issued.token)


@token_app.command("list")
def token_list(ctx: typer.Context,
               username: Annotated[str, typer.Argument(help="username or id")]) -> None:
    """List an account's unexpired tokens (never the tokens themselves)."""
    from survey import accounts

    def tokens(conn: psycopg.Connection, principal: Principal) -> list[accounts.TokenView]:
        return accounts.list_tokens(conn, principal=principal,
                                    user_id=accounts.resolve_user(conn, username))

    found = _run(ctx, tokens)
    _show(("id", "kind", "name", "created", "expires", "revoked"), [
        (str(t.id), t.kind, t.name or "-", f"{t.created_at:%Y-%m-%d %H:%M}",
         f"{t.expires_at:%Y-%m-%d %H:%M}",
         f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-") for t in found])


@token_app.command("revoke")
def token_revoke(ctx: typer.Context,
                 token_id: Annotated[str, typer.Argument(help="the token's id")]) -> None:
    """Revoke a token at once (a lost tablet): it no longer works anywhere."""
    from uuid import UUID

    from survey import accounts
    from survey.cli import console, reported
    from survey.errors import InvalidInput

    with reported():
        try:
            key = UUID(token_id)
        except ValueError as exc:
            raise InvalidInput(f"{token_id!r} is no token id: `demine token list USERNAME` "
                               "shows them") from exc

        def revoke(conn: psycopg.Connection, principal: Principal) -> bool:
            return accounts.revoke_token(conn, principal=principal, token_id=key)

        done = _run(ctx, revoke)
    console.print(f"token {key} " + ("revoked" if done else "was already revoked"))
