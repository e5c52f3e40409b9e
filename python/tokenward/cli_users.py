"""``tokenward users``: the accounts of the configured store, from the shell (docs/cli.md).

``create``, ``list``, ``disable``, ``enable``, ``set-groups`` and ``reset-link`` run on the app's
own service graph (:class:`tokenward.services.Services`: the same store, secret, password policy
and hash parameters as the app), so a user made here signs in there, and a reset link printed
here is one the app accepts.

The group is registered in :mod:`tokenward.cli` with one line. More subcommands join it through
:func:`users_subcommand` (``users mfa-reset`` is added that way)::

    @users_subcommand
    def _mfa_reset(commands) -> None:
        parser = commands.add_parser("mfa-reset", help=...)
        add_common_options(parser)
        parser.set_defaults(run=lambda args: run_with_accounts(args, action))

Errors a user can fix (a bad setting, no such user, a taken e-mail, a weak password) exit 2 with
the message on stderr (a :class:`~tokenward.ConfigurationError`, which the command line's main
answers so).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tokenward.exceptions import ConfigurationError, TokenwardError

if TYPE_CHECKING:
    from tokenward.accounts import Accounts
    from tokenward.stores.base import UserRecord

__all__ = [
    "add_common_options",
    "register_users",
    "run_with_accounts",
    "users_subcommand",
]

Commands = Any  # argparse's _SubParsersAction
_SUBCOMMANDS: list[Callable[[Commands], None]] = []


def users_subcommand(register: Callable[[Commands], None]) -> Callable[[Commands], None]:
    """Add a subcommand to ``tokenward users``: ``register(commands)`` adds its parser (call
    :func:`add_common_options` on it) and sets ``run``."""
    _SUBCOMMANDS.append(register)
    return register


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--prefix`` and ``--json``, as every other command has them."""
    parser.add_argument(
        "--prefix", default="TOKENWARD_", help="environment variable prefix (default TOKENWARD_)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout and nothing else"
    )


def register_users(commands: Commands) -> None:
    """The ``users`` group and its subcommands (``tokenward.cli`` calls it)."""
    parser = commands.add_parser(
        "users",
        help="the accounts in the configured store",
        description="Create, list, disable, enable users, set their groups, and print a "
        "password-reset link, in <PREFIX>STORE_URL with the app's settings.",
    )
    group = parser.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    for register in _SUBCOMMANDS:
        register(group)


def _no_mail(kind: str, email: str, token: str) -> None:
    raise ConfigurationError("the command line sends no mail: use tokenward users reset-link")


def run_with_accounts(
    args: argparse.Namespace, action: Callable[[Accounts], Awaitable[dict[str, Any]]]
) -> int:
    """Open the store of the settings (``args.prefix``), run ``action(accounts)``, close it,
    print what it returned (``text`` as text, or the whole dict as JSON with ``--json``)."""
    from tokenward.services import Services
    from tokenward.settings import AuthSettings

    settings = AuthSettings.from_env(args.prefix)
    settings.check()
    services = Services(settings, warn=False, on_send=_no_mail)
    accounts = services.require_accounts()

    async def run() -> dict[str, Any]:
        await services.store.open()
        try:
            return await action(accounts)
        finally:
            await services.store.close()

    try:
        result = asyncio.run(run())
    except (TokenwardError, ValueError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(str(exc) or type(exc).__name__) from None
    text = result.pop("text", None)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, sort_keys=True))
    elif text is not None:
        print(text)
    return 0


def _view(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "disabled": user.disabled,
        "groups": list(user.groups),
        "roles": list(user.roles),
        "has_password": user.password_hash is not None,
        "created_at": user.created_at,
        "last_sign_in_at": user.last_sign_in_at,
    }


async def _user(accounts: Accounts, who: str) -> UserRecord:
    user = await accounts.find(who)
    if user is None:
        raise ConfigurationError(f"no user {who!r} (give an id or an e-mail)")
    return user


def _names(values: list[str] | None) -> list[str]:
    return [n for v in values or () for n in v.replace(",", " ").split() if n]


@users_subcommand
def _create(commands: Commands) -> None:
    parser = commands.add_parser(
        "create",
        help="create a user (groups and roles only here or by an admin API)",
        description="Create a user with the app's password policy and hash parameters. The "
        "password is read from standard input with --password-stdin; without it the user has "
        "none and sets one through a reset link (tokenward users reset-link).",
    )
    parser.add_argument("--email", required=True)
    parser.add_argument("--password-stdin", action="store_true", help="read the password")
    parser.add_argument("--group", action="append", metavar="GROUP", help="repeat, or a,b")
    parser.add_argument("--role", action="append", metavar="ROLE", help="repeat, or a,b")
    parser.add_argument(
        "--unverified", action="store_true", help="leave the e-mail unverified (default: verified)"
    )
    add_common_options(parser)

    def run(args: argparse.Namespace) -> int:
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None

        async def action(accounts: Accounts) -> dict[str, Any]:
            user = await accounts.create_user(
                args.email,
                password,
                groups=_names(args.group),
                roles=_names(args.role),
                email_verified=not args.unverified,
            )
            return {"user": _view(user), "text": f"created {user.id} {user.email}"}

        return run_with_accounts(args, action)

    parser.set_defaults(run=run)


@users_subcommand
def _list(commands: Commands) -> None:
    parser = commands.add_parser("list", help="list users, by id")
    parser.add_argument("--limit", type=int, default=100, help="at most this many (1 to 1000)")
    parser.add_argument("--after", help="the last id of the previous page")
    add_common_options(parser)

    def run(args: argparse.Namespace) -> int:
        async def action(accounts: Accounts) -> dict[str, Any]:
            users = await accounts.users.list_users(limit=args.limit, after=args.after)
            lines = [
                f"{u.id}  {u.email}  {'disabled' if u.disabled else 'active'}"
                f"{'' if u.email_verified else ' unverified'}  groups={','.join(u.groups)}"
                for u in users
            ]
            return {"users": [_view(u) for u in users], "text": "\n".join(lines)}

        return run_with_accounts(args, action)

    parser.set_defaults(run=run)


def _switch(name: str, disabled: bool, summary: str) -> Callable[[Commands], None]:
    def register(commands: Commands) -> None:
        parser = commands.add_parser(name, help=summary)
        parser.add_argument("user", help="the user's id or e-mail")
        add_common_options(parser)

        def run(args: argparse.Namespace) -> int:
            async def action(accounts: Accounts) -> dict[str, Any]:
                user = await accounts.set_disabled((await _user(accounts, args.user)).id, disabled)
                assert user is not None
                return {"user": _view(user), "text": f"{name}d {user.id} {user.email}"}

            return run_with_accounts(args, action)

        parser.set_defaults(run=run)

    return register


users_subcommand(_switch("disable", True, "disable a user: sign-in refused, every session ends"))
users_subcommand(_switch("enable", False, "enable a disabled user"))


@users_subcommand
def _set_groups(commands: Commands) -> None:
    parser = commands.add_parser(
        "set-groups",
        help="replace a user's groups (and roles); tokens carry them from the next refresh",
    )
    parser.add_argument("user", help="the user's id or e-mail")
    parser.add_argument("--group", action="append", metavar="GROUP", help="repeat, or a,b")
    parser.add_argument("--role", action="append", metavar="ROLE", help="repeat; roles too")
    add_common_options(parser)

    def run(args: argparse.Namespace) -> int:
        async def action(accounts: Accounts) -> dict[str, Any]:
            found = await _user(accounts, args.user)
            roles = None if args.role is None else _names(args.role)
            user = await accounts.set_groups(found.id, _names(args.group), roles)
            assert user is not None
            return {"user": _view(user), "text": f"{user.id} groups={','.join(user.groups)}"}

        return run_with_accounts(args, action)

    parser.set_defaults(run=run)


@users_subcommand
def _reset_link(commands: Commands) -> None:
    parser = commands.add_parser(
        "reset-link",
        help="print a password-reset token (RESET_PASSWORD_TTL) for a user, mailing nothing",
    )
    parser.add_argument("user", help="the user's id or e-mail")
    parser.add_argument(
        "--url",
        help="a link template holding {token}, e.g. https://app.example.com/reset?t={token}",
    )
    add_common_options(parser)

    def run(args: argparse.Namespace) -> int:
        if args.url is not None and "{token}" not in args.url:
            raise ConfigurationError("--url must hold {token}")

        async def action(accounts: Accounts) -> dict[str, Any]:
            user = await _user(accounts, args.user)
            token = await accounts.reset_link_token(user.id)
            link = args.url.replace("{token}", token) if args.url else None
            return {"user": user.id, "token": token, "link": link, "text": link or token}

        return run_with_accounts(args, action)

    parser.set_defaults(run=run)
