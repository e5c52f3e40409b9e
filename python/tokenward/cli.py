"""The ``tokenward`` command line: keys, token inspection and verification, settings.

::

    tokenward keygen ES256 [--public] [--pem]      a new key (private JWK by default)
    tokenward inspect TOKEN                         header and claims, UNVERIFIED
    tokenward verify TOKEN --key FILE | --secret-env VAR | --jwks URL [--issuer ...]
    tokenward debug-token [--prefix VEGA_]          an access token of the custom provider
    tokenward settings check [--prefix VEGA_]       the environment, checked as Auth checks it
    tokenward routes MODULE:APP                     which routes are protected, and how
    tokenward api-key create|list|revoke            API keys in the configured store
    tokenward access check USER ENTITLEMENT RES     entitlements (and grant|revoke|parent)
    tokenward limits clear --email EMAIL            lift a login lock-out now
    tokenward totp code SECRET [--at SECONDS]       the TOTP code of a base32 secret
    tokenward secret rotate                         a new AUTH_SECRET, and how to rotate to it

Exit codes: 0 ok, 1 the token was rejected (``settings check``: a variable that names no
setting), 2 a usage or configuration error (argparse's own code for usage). ``--json`` (every
command) prints one JSON object on stdout and nothing else.
A ``TOKEN`` of ``-`` is read from standard input, so that it stays out of the shell history.

Adding a command is one function: decorate ``def _name(commands: Commands) -> None`` with
``@command``; it adds its parser with :func:`_parser` and sets ``run`` to a function of the
parsed arguments that returns the exit code. A command with subcommands (``settings check``)
makes its own group with :func:`_group`.

This module imports nothing but the core at import time: the settings (pydantic) are imported
inside the commands that read them, so ``tokenward inspect`` works without the fastapi extra.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote

import tokenward as tw
from tokenward import cli_users

__all__ = ["EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_REJECTED = 1  # the token is not good
EXIT_USAGE = 2  # bad arguments, keys or settings: nothing was decided about a token
EXIT_BROKEN_PIPE = 141  # stdout closed early: what a shell reports for a process SIGPIPE ended

Commands = Any  # argparse's _SubParsersAction, which has no public name
Run = Callable[[argparse.Namespace], int]
_COMMANDS: list[Callable[[Commands], None]] = []
MAX_KEY_FILE_BYTES = 1 << 20


class UsageError(Exception):
    """Arguments, files, keys or settings that cannot be used: exit code 2, message on stderr."""


def command(register: Callable[[Commands], None]) -> Callable[[Commands], None]:
    """Register a top-level command: ``register(commands)`` adds its parser."""
    _COMMANDS.append(register)
    return register


def _parser(commands: Commands, name: str, summary: str, description: str) -> Any:
    """A command's parser, with the options every command has (``--json``)."""
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout and nothing else"
    )
    return parser


def _group(commands: Commands, name: str, summary: str) -> Commands:
    """A command with subcommands of its own (``settings check``); returns their ``commands``."""
    parser = commands.add_parser(name, help=summary, description=summary)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenward",
        description="JSON Web Tokens and keys from the shell, with tokenward's strict core.",
        epilog="exit codes: 0 ok, 1 token rejected, 2 usage or configuration error",
    )
    parser.add_argument("--version", action="version", version=f"tokenward {tw.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    _quiet_library_logs()
    run: Run = args.run
    try:
        return run(args)
    except BrokenPipeError:  # the reader went away (`tokenward inspect T | head -1`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the flush at exit does not fail again
        return EXIT_BROKEN_PIPE
    except UsageError as exc:
        return _fail(args, str(exc))
    except (tw.ConfigurationError, tw.InvalidKeyError, tw.KeySetUnavailableError) as exc:
        return _fail(args, str(exc))


def _quiet_library_logs() -> None:
    """The commands say what went wrong themselves; the library's log lines would repeat it (on
    stderr, through logging's last-resort handler) when the caller configured no logging."""
    logger = logging.getLogger("tokenward")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        _print_json({"ok": False, "error": "usage", "message": message})
    print(f"tokenward: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# --- output helpers ---------------------------------------------------------------------------


def _print_json(value: Any, out: TextIO | None = None) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), file=out or sys.stdout)


def _token_arg(value: str) -> str:
    """The TOKEN argument: ``-`` reads it from stdin; surrounding blanks are dropped."""
    text = sys.stdin.read() if value == "-" else value
    token = text.strip()
    if not token:
        raise UsageError("the token is empty")
    return token


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _duration(seconds: float) -> str:
    """``5 minutes``, ``3 hours``, ``2 days``: the largest unit with a whole count, rounded down."""
    seconds = abs(seconds)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size * (2 if unit == "day" else 1):
            return _plural(int(seconds // size), unit)
    return _plural(int(seconds), "second")


def _when(name: str, value: Any, now: float) -> dict[str, Any]:
    """A NumericDate claim as a date and as a phrase relative to ``now``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return {"value": value, "date": None, "relative": "not a NumericDate"}
    try:
        date = _dt.datetime.fromtimestamp(value, _dt.UTC)
    except (OverflowError, OSError, ValueError):
        return {"value": value, "date": None, "relative": "out of range"}
    delta = value - now
    if name == "exp":
        relative = (
            f"expires in {_duration(delta)}" if delta > 0 else f"expired {_duration(delta)} ago"
        )
    elif name == "nbf":
        relative = (
            f"valid in {_duration(delta)}" if delta > 0 else f"valid since {_duration(delta)}"
        )
    else:
        relative = f"{_duration(delta)} ago" if delta <= 0 else f"in {_duration(delta)}"
    return {"value": value, "date": date.isoformat(), "relative": relative}


# --- keygen -----------------------------------------------------------------------------------


@command
def _keygen(commands: Commands) -> None:
    parser = _parser(
        commands,
        "keygen",
        "generate a key",
        "Generate a new key for ALG and print it: the private key as a JWK unless told "
        "otherwise.\nThe kid is the key's RFC 7638 thumbprint. HMAC keys (HS*) have no public "
        "half and no PEM form.",
    )
    parser.add_argument(
        "algorithm", metavar="ALG", choices=tw.ALGORITHMS, help=", ".join(tw.ALGORITHMS)
    )
    parser.add_argument("--public", action="store_true", help="print only the public key")
    parser.add_argument(
        "--pem", action="store_true", help="PEM (PKCS#8, or SubjectPublicKeyInfo with --public)"
    )
    parser.add_argument(
        "--rsa-bits", type=int, default=2048, metavar="N", help="RSA key size (default 2048)"
    )
    parser.set_defaults(run=_run_keygen)


def _run_keygen(args: argparse.Namespace) -> int:
    algorithm: str = args.algorithm
    if algorithm.startswith("HS") and (args.public or args.pem):
        raise UsageError(f"an {algorithm} key is a shared secret: it has no public half or PEM")
    if not algorithm.startswith(("RS", "PS")) and args.rsa_bits != 2048:
        raise UsageError("--rsa-bits is for RS* and PS* keys")
    key = tw.JWK.generate(algorithm, rsa_bits=args.rsa_bits)
    out = key.public() if args.public else key
    private = not args.public
    if args.json:
        body: dict[str, Any] = {"alg": algorithm, "kid": key.kid, "private": private}
        if args.pem:
            body["pem"] = out.to_pem(private=private)
        else:
            body["jwk"] = out.to_dict(private=private)
        _print_json(body)
    elif args.pem:
        sys.stdout.write(out.to_pem(private=private))
    else:
        _print_json(out.to_dict(private=private))
    return EXIT_OK


# --- inspect ----------------------------------------------------------------------------------

BANNER = "UNVERIFIED: decoded without checking the signature. Do not trust these values."


@command
def _inspect(commands: Commands) -> None:
    parser = _parser(
        commands,
        "inspect",
        "show a token's header and claims, unverified",
        "Decode TOKEN and print its header and claims, WITHOUT checking the signature or any\n"
        "claim: anyone can write a token that reads well here. exp, nbf and iat are shown as\n"
        "dates and relative to now. Exit 1 when TOKEN is not a well-formed JWS.",
    )
    parser.add_argument("token", metavar="TOKEN", help="the token, or - to read it from stdin")
    parser.set_defaults(run=_run_inspect)


def _run_inspect(args: argparse.Namespace) -> int:
    token = _token_arg(args.token)
    try:
        header = tw.unverified_header(token)
        claims = tw.unverified_claims(token)
    except tw.InvalidTokenError as exc:
        return _rejected(args, exc)
    now = time.time()
    times = {
        name: _when(name, claims[name], now) for name in ("iat", "nbf", "exp") if name in claims
    }
    if args.json:
        _print_json({"unverified": True, "header": header, "claims": claims, "times": times})
        return EXIT_OK
    print(f"*** {BANNER} ***")
    print("header:")
    print(json.dumps(header, indent=2, ensure_ascii=False))
    print("claims:")
    print(json.dumps(claims, indent=2, ensure_ascii=False))
    for name, when in times.items():
        date = repr(when["value"])
        if when["date"] is not None:
            date = _dt.datetime.fromisoformat(when["date"]).strftime("%Y-%m-%d %H:%M:%S UTC")
        print(f"{name}: {date} ({when['relative']})")
    return EXIT_OK


def _rejected(args: argparse.Namespace, exc: tw.InvalidTokenError) -> int:
    kind = type(exc).__name__
    if args.json:
        _print_json({"valid": False, "error": kind, "message": str(exc)})
    else:
        print(f"rejected: {kind}: {exc}", file=sys.stderr)
    return EXIT_REJECTED


# --- verify -----------------------------------------------------------------------------------


@command
def _verify(commands: Commands) -> None:
    parser = _parser(
        commands,
        "verify",
        "verify a token's signature and claims",
        "Verify TOKEN with one key source and print its claims. Exit 0 when it is good, 1 when\n"
        "it is rejected (the reason goes to stderr, or into the JSON), 2 when the keys or the\n"
        "arguments are unusable. Without --algorithm the algorithms are those the keys name.\n"
        "With --issuer alone (no --key, --secret-env or --jwks) the keys come from the issuer's\n"
        "OpenID Connect discovery document ({issuer}/.well-known/openid-configuration).",
    )
    parser.add_argument("token", metavar="TOKEN", help="the token, or - to read it from stdin")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--key", metavar="FILE", help="a JWK, a JWK set (JSON) or a PEM key or certificate"
    )
    source.add_argument(
        "--secret-env", metavar="VAR", help="an HMAC secret, from environment variable VAR"
    )
    source.add_argument("--jwks", metavar="URL", help="a JWK set URL (https, or http on loopback)")
    parser.add_argument("--issuer", action="append", metavar="ISS", help="accepted iss (repeat)")
    parser.add_argument(
        "--audience",
        action="append",
        metavar="AUD",
        help="accepted aud (repeat); a token with an aud is refused when none is given",
    )
    parser.add_argument(
        "--algorithm",
        action="append",
        metavar="ALG",
        choices=tw.ALGORITHMS,
        help="accepted alg (repeat)",
    )
    parser.add_argument("--leeway", type=float, default=0.0, metavar="SECONDS", help="clock skew")
    parser.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="CLAIM",
        help="a claim that must be present (repeat)",
    )
    parser.set_defaults(run=_run_verify)


def _read_key_file(name: str) -> tw.JWK | tw.JWKSet:
    path = Path(name)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the key file {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise UsageError(f"the key file {name} is larger than 1 MiB")
    if data.lstrip().startswith(b"-----BEGIN"):
        return tw.JWK.from_pem(data)
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise UsageError(
            f"the key file {name} is neither JSON (a JWK or JWK set) nor PEM"
        ) from None
    if isinstance(document, dict) and "keys" in document:
        return tw.JWKSet.from_json(document)
    return tw.JWK.from_json(document)


def _named_algorithms(keys: tw.JWK | tw.JWKSet) -> list[str]:
    found = [keys.algorithm] if isinstance(keys, tw.JWK) else [k.algorithm for k in keys]
    return sorted({a for a in found if a})


def _discovered(issuers: list[str] | None) -> tw.RemoteJWKS:
    """The key set of the one ``--issuer``, found through OpenID Connect discovery."""
    if not issuers or len(issuers) != 1:
        raise UsageError(
            "give a key source (--key, --secret-env or --jwks), or exactly one --issuer whose "
            "keys are found through discovery"
        )
    from tokenward.oidc import OidcDiscovery, discovery_url

    return OidcDiscovery(discovery_url(issuers[0]), issuer=issuers[0])


def _run_verify(args: argparse.Namespace) -> int:
    token = _token_arg(args.token)
    keys: tw.JWK | tw.JWKSet | tw.RemoteJWKS
    algorithms: list[str] = list(args.algorithm or ())
    if args.key is not None:
        keys = _read_key_file(args.key)
        algorithms = algorithms or _named_algorithms(keys)
    elif args.secret_env is not None:
        secret = os.environ.get(args.secret_env)
        if not secret:
            raise UsageError(f"environment variable {args.secret_env} is not set or empty")
        keys = tw.JWK.from_secret(secret)
        algorithms = algorithms or ["HS256"]
    elif args.jwks is not None:
        remote = tw.RemoteJWKS(args.jwks)
        keys = remote
        algorithms = algorithms or _named_algorithms(remote.get_keys())
    else:
        from tokenward.oidc import ASYMMETRIC_ALGORITHMS

        keys = _discovered(args.issuer)
        named = _named_algorithms(keys.get_keys())  # Entra's keys name none: the key decides
        algorithms = algorithms or named or list(ASYMMETRIC_ALGORITHMS)
    if not algorithms:
        raise UsageError("the keys name no algorithm: give --algorithm")
    verifier = tw.Verifier(
        keys,
        algorithms=algorithms,
        issuer=args.issuer,
        audience=args.audience,
        leeway=args.leeway,
        require=args.require,
    )
    try:
        claims = verifier.verify(token)
    except tw.InvalidTokenError as exc:
        return _rejected(args, exc)
    header = tw.unverified_header(token)  # the signature is good: the header is what was signed
    if args.json:
        _print_json({"valid": True, "header": header, "claims": claims})
    else:
        print(f"valid: {header.get('alg')} signature and claims check out")
        print(json.dumps(claims, indent=2, ensure_ascii=False))
    return EXIT_OK


# --- the environment's settings ---------------------------------------------------------------


def _load_settings(prefix: str) -> Any:
    """The checked AuthSettings read with ``prefix`` (ConfigurationError for a bad one)."""
    try:
        from tokenward.settings import AuthSettings
    except ImportError as exc:
        raise UsageError(
            f"reading the settings needs the fastapi extra ({exc.name} is missing): "
            "pip install 'tokenward[fastapi]'"
        ) from None
    settings = AuthSettings.from_env(prefix)
    settings.check()
    return settings


def _prefix_option(parser: Any) -> None:
    parser.add_argument(
        "--prefix", default="TOKENWARD_", help="environment variable prefix (default TOKENWARD_)"
    )


@command
def _debug_token(commands: Commands) -> None:
    parser = _parser(
        commands,
        "debug-token",
        "mint an access token of the custom provider",
        "Mint an access token for the custom (debug) provider from the environment's settings\n"
        "(<PREFIX>AUTH_SECRET, DEBUG_EMAIL, DEBUG_GROUPS, DEBUG_SCOPES, TOKEN_ISSUER,\n"
        "ACCESS_TOKEN_LIFETIME): the token the debug login would give, without a session and so\n"
        "without a refresh token. Needs <PREFIX>AUTH_SECRET (a random secret would make a token\n"
        "no server accepts) and AUTH_PROVIDER=custom.",
    )
    _prefix_option(parser)
    parser.add_argument("--sub", help="subject (default: the debug user's, as its login gives)")
    parser.add_argument("--email", help="email claim (default: <PREFIX>DEBUG_EMAIL)")
    parser.add_argument(
        "--group", action="append", metavar="GROUP", help="a group (repeat; default DEBUG_GROUPS)"
    )
    parser.add_argument(
        "--scope", action="append", metavar="SCOPE", help="a scope (repeat; default DEBUG_SCOPES)"
    )
    parser.add_argument(
        "--lifetime", type=int, metavar="SECONDS", help="default: ACCESS_TOKEN_LIFETIME"
    )
    parser.set_defaults(run=_run_debug_token)


def _debug_subject(email: str) -> str:
    from tokenward.providers import debug_subject  # no FastAPI below it

    return debug_subject(email)


def _run_debug_token(args: argparse.Namespace) -> int:
    settings = _load_settings(args.prefix)
    if settings.auth_provider != "custom":
        raise UsageError(
            f"{settings.var('auth_provider')}={settings.auth_provider}: only the custom provider "
            "accepts debug tokens"
        )
    if settings.auth_secret is None:
        raise UsageError(
            f"{settings.var('auth_secret')} is not set: the server would sign with a random secret "
            "and accept no token minted here"
        )
    lifetime = args.lifetime
    if lifetime is None:
        lifetime = int(settings.access_token_lifetime.total_seconds())
    if lifetime <= 0:
        raise UsageError("--lifetime must be positive")
    from tokenward.principal import Principal
    from tokenward.services import Services

    # The keys the app signs with (TOKEN_ALGORITHM, SIGNING_KEY_FILE), from the app's graph.
    keys = _with_dev_key_notice(settings, lambda: Services(settings, warn=False).signing)
    email = settings.debug_email if args.email is None else args.email
    who = Principal(
        subject=_debug_subject(settings.debug_email) if args.sub is None else args.sub,
        credential_type="access_token",
        email=email or None,
        groups=tuple(settings.groups if args.group is None else args.group),
        scopes=tuple(settings.debug_user_scopes if args.scope is None else args.scope),
    )
    try:
        token = keys.access.issue(who, iat=int(time.time()), lifetime=lifetime, jti=None, sid=None)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        body = {"access_token": token, "token_type": "bearer", "expires_in": lifetime}
        _print_json(body)
    else:
        print(token)
    return EXIT_OK


@command
def _settings(commands: Commands) -> None:
    group = _group(commands, "settings", "the auth settings in the environment")
    parser = _parser(
        group,
        "check",
        "check the settings as Auth does at start-up",
        "Read the <PREFIX>* environment variables and check them exactly as Auth does when an\n"
        "app starts (AuthSettings.from_env(prefix).check()). Each problem is named with its\n"
        "variable; exit 2 when there is one. A <PREFIX>* variable that names no setting (a\n"
        "misspelling, which the settings ignore) is named with the closest setting: exit 1.\n"
        "Secrets are never printed.",
    )
    _prefix_option(parser)
    parser.set_defaults(run=_run_settings_check)


def _problems(message: str) -> list[str]:
    """One line per problem: a parse failure names every bad variable, separated by '; '."""
    head = "invalid settings: "
    if message.startswith(head):
        return [part for part in message[len(head) :].split("; ") if part]
    return [message]


# A libpq keyword's value: single-quoted (with backslash escapes; unterminated, it runs to the
# end) or up to the next blank. Any keyword naming a password (password, sslpassword) is masked.
_KEYWORD_PASSWORD = re.compile(
    r"(?i)(?<![a-z0-9_])([a-z_]*password\s*=\s*)('(?:[^'\\]|\\.?)*(?:'|$)|\S*)"
)


def _without_password(url: str) -> str:
    """The store location with every password masked, in each form the store accepts: the URL's
    user information (``postgresql://user:pw@host``), a query parameter (``?password=pw``,
    ``sslpassword``), and libpq's keyword/value string (``host=db password='p w'``)."""
    if "://" not in url:
        return _KEYWORD_PASSWORD.sub(r"\1***", url)
    scheme, rest = url.split("://", 1)
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hosts = netloc.rpartition("@")  # everything before the last @ is userinfo
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hosts}"
    path, mark, query = tail.partition("?")
    if mark:
        query, hash_mark, fragment = query.partition("#")
        fields = []
        for field in query.split("&"):
            name, equals, _ = field.partition("=")
            if equals and "password" in unquote(name).lower():
                field = f"{name}=***"
            fields.append(field)
        tail = f"{path}?{'&'.join(fields)}{hash_mark}{fragment}"
    return f"{scheme}://{netloc}{tail}"


def _run_settings_check(args: argparse.Namespace) -> int:
    try:
        settings = _load_settings(args.prefix)
    except tw.ConfigurationError as exc:
        problems = _problems(str(exc)) + _unknown(args.prefix)
        if args.json:
            _print_json({"ok": False, "prefix": args.prefix, "problems": problems})
        else:
            print(f"{args.prefix}* settings: {_plural(len(problems), 'problem')}", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    from tokenward.settings import settings as registry

    listed = registry()  # every setting, by group: the same list as docs/fastapi.md's table
    summary = {item.field: _shown(settings, item) for item in listed}
    unknown = _unknown(args.prefix)  # read, but not settings: a misspelling is ignored
    if args.json:
        body = {"ok": not unknown, "prefix": args.prefix, "settings": summary}
        _print_json({**body, "unknown": unknown} if unknown else body)
    else:
        print(f"{args.prefix}* settings: {'ok' if not unknown else 'unknown variables'}")
        group = None
        for item in listed:
            if item.group != group:
                group = item.group
                print(f"  {group}:")
            print(f"    {settings.var(item.field)} = {_as_text(summary[item.field])}")
        if unknown:
            print(f"{args.prefix}* settings: {_plural(len(unknown), 'problem')}", file=sys.stderr)
            for problem in unknown:
                print(f"  - {problem}", file=sys.stderr)
    return EXIT_REJECTED if unknown else EXIT_OK


def _shown(settings: Any, item: Any) -> Any:
    """A setting's value as ``settings check`` shows it: a secret by its size only, the store's
    location without its password, a duration in seconds."""
    value = getattr(settings, item.field)
    if item.field == "store_url":
        return _without_password(value)
    if item.field == "oidc_issuers" and settings.auth_provider == "oidc":
        # every issuer OIDC_ISSUER and OIDC_ISSUERS name, as the provider reads them
        return [c.issuer for c in settings.oidc_issuer_configs()]
    if item.field == "auth_secret_previous":  # how many, and their sizes
        sizes = [len(old) for old in settings.previous_secrets]
        return f"{len(sizes)} set ({', '.join(map(str, sizes))} bytes)" if sizes else "not set"
    if item.secret:
        if value is None:
            return (
                "not set: a random secret per process" if item.field == "auth_secret" else "not set"
            )
        return f"set ({len(value.get_secret_value().encode())} bytes)"
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
        return int(seconds) if seconds == int(seconds) else seconds
    return value


def _as_text(value: Any) -> str:
    """A value of ``settings check`` as its variable would be written."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "(empty)"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _unknown(prefix: str) -> list[str]:
    """A problem line for each ``<PREFIX>*`` variable that names no setting."""
    from tokenward.settings import unknown_variables

    return [
        f"{name} is not a setting "
        + (f"(did you mean {closest}?)" if closest else "(no setting has a name like it)")
        for name, closest in unknown_variables(prefix)
    ]


if __name__ == "__main__":
    # ``python -m tokenward.cli`` runs this file as ``__main__`` before the commands defined
    # below this line are registered: run the imported module's ``main``, whose parser is whole
    # and is the ``tokenward`` entry point's.
    from tokenward.cli import main as _entry_point

    sys.exit(_entry_point())


# --- routes: what each route of an app requires -------------------------------------------------


@command
def _routes(commands: Commands) -> None:
    parser = _parser(
        commands,
        "routes",
        "list an app's routes and whether each is protected",
        "Import MODULE:APP (as uvicorn does; --app-dir adds a directory to the path) and list\n"
        "every API route: its methods, path, and whether it is protected, optional, public, or\n"
        "public on purpose (public()), with the strategies, scopes and groups it needs.\n"
        "--fail-on-public exits 1 when a route is public without the public() marker: the\n"
        "'no unauthenticated endpoint by accident' check for CI.",
    )
    parser.add_argument("app", metavar="MODULE:APP", help="e.g. app:app or myservice.main:api")
    parser.add_argument("--app-dir", default=".", help="directory to import MODULE from")
    parser.add_argument(
        "--fail-on-public",
        action="store_true",
        help="exit 1 when a route is public without public()",
    )
    parser.set_defaults(run=_run_routes)


def _import_app(spec: str, app_dir: str) -> Any:
    import importlib

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"{spec!r} is not MODULE:APP (e.g. app:app)")
    sys.path.insert(0, str(Path(app_dir).resolve()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r}: {exc}") from None
    except tw.ConfigurationError as exc:
        raise UsageError(f"{module_name!r} does not start: {exc}") from None
    app: Any = module
    for part in attr.split("."):
        app = getattr(app, part, None)
        if app is None:
            raise UsageError(f"{module_name!r} has no {attr!r}")
    return app


def _run_routes(args: argparse.Namespace) -> int:
    try:
        from tokenward.fastapi.routes import route_report
    except ImportError as exc:
        raise UsageError(f"routes needs the fastapi extra ({exc.name} is missing)") from None
    report = route_report(_import_app(args.app, args.app_dir))
    accidental = [r for r in report if r.protection == "public"]
    if args.json:
        _print_json(
            {
                "routes": [r.to_json() for r in report],
                "public_without_marker": [r.path for r in accidental],
            }
        )
    else:
        width = max((len(r.path) for r in report), default=4)
        for r in report:
            parts = []
            if r.strategies:
                parts.append("strategies: " + " ".join(r.strategies))
            if r.scopes:
                parts.append("scopes: " + " ".join(r.scopes))
            if r.groups:
                parts.append("groups: " + " ".join(r.groups))
            methods = ",".join(r.methods)
            line = f"{methods:<13} {r.path:<{width}}  {r.protection:<16} {', '.join(parts)}"
            print(line.rstrip())
        print(
            f"{_plural(len(report), 'route')}, "
            f"{_plural(len(accidental), 'public route')} without public()"
        )
    return EXIT_REJECTED if args.fail_on_public and accidental else EXIT_OK


# --- api-key: keys in the configured store ----------------------------------------------------


@command
def _api_key(commands: Commands) -> None:
    group = _group(commands, "api-key", "API keys in the configured store (STORE_URL)")
    create = _parser(
        group,
        "create",
        "create an API key for a user (printed once)",
        "Create an API key in <PREFIX>STORE_URL, hashed under <PREFIX>AUTH_SECRET, for the user\n"
        "named by --owner (its subject), as an administrator would: the scopes and groups given\n"
        "are the key's, with no owner check. The key is printed once; store it now.\n"
        "Refused (exit 1) when <PREFIX>AUTH_SECRET is not the one the store's keys were made\n"
        "with: no server would accept the key.",
    )
    create.add_argument("--owner", required=True, help="the owner's subject (sub)")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--email", help="the owner's email")
    create.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="GROUP",
        help="a group the key is in (require_groups); repeat for more. Default: none",
    )
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="a scope the key holds (Security(..., scopes=[...])); repeat for more. Default: none",
    )
    create.add_argument("--expires-in", type=int, metavar="SECONDS", help="default: never")
    listing = _parser(
        group,
        "list",
        "list API keys (one user's, or all)",
        "List the keys of --owner, or every owner's keys without it (never a key).",
    )
    listing.add_argument("--owner", help="the owner's subject (sub); default: every owner")
    revoke = _parser(
        group, "revoke", "revoke an API key by id", "Revoke the key with id ID (any owner's)."
    )
    revoke.add_argument("key_id", metavar="ID")
    for parser, action in ((create, "create"), (listing, "list"), (revoke, "revoke")):
        _prefix_option(parser)
        parser.set_defaults(run=_run_api_key, api_key_action=action)


def _iso(value: float | None) -> str | None:
    """A stored time as the HTTP API prints it: ISO 8601 in UTC (``2026-12-05T11:37:13Z``)."""
    if value is None:
        return None
    return _dt.datetime.fromtimestamp(value, _dt.UTC).isoformat().replace("+00:00", "Z")


def _key_json(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "owner": record.owner_subject,
        "scopes": list(record.scopes),
        "groups": list(record.groups),
        "created_at": _iso(record.created_at),
        "expires_at": _iso(record.expires_at),
        "last_used_at": _iso(record.last_used_at),
        "revoked_at": _iso(record.revoked_at),
    }


def _run_api_key(args: argparse.Namespace) -> int:
    import asyncio

    from tokenward.services import Services

    settings = _load_settings(args.prefix)
    if settings.auth_secret is None:
        raise UsageError(
            f"{settings.var('auth_secret')} is not set: API keys are hashed under it, and the "
            "server must use the same one"
        )
    service = Services(settings, warn=False).api_keys  # hashed as the app hashes them
    try:
        return asyncio.run(_api_key_action(args, service, settings.var("auth_secret")))
    except tw.StoreError as exc:
        raise UsageError(f"the store failed: {exc}") from None


async def _api_key_action(args: argparse.Namespace, service: Any, secret_var: str) -> int:
    from tokenward.principal import Principal

    await service.store.open()
    try:
        if args.api_key_action == "create":
            owner = Principal(
                subject=args.owner,
                credential_type="access_token",
                email=args.email,
                groups=tuple(args.group),
                scopes=tuple(args.scope),
            )
            try:
                made = await service.create(
                    owner,
                    name=args.name,
                    scopes=args.scope,
                    groups=args.group,
                    expires_in=args.expires_in,
                )
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            except tw.ConfigurationError:  # the store's keys were made under another secret
                message = (
                    f"{secret_var} is not the one the API keys in this store were made with: "
                    "no server would accept a key made with it. Run this with the servers' "
                    f"{secret_var}. No key was created."
                )
                if args.json:
                    _print_json({"ok": False, "error": "wrong_secret", "message": message})
                print(f"tokenward: error: {message}", file=sys.stderr)
                return EXIT_REJECTED
            if args.json:
                _print_json({"key": made.key, **_key_json(made.record)})
            else:
                print(made.key)
                print(f"id {made.record.id}: the key is shown once; store it now", file=sys.stderr)
            return EXIT_OK
        if args.api_key_action == "list":
            records = await service.store.list_api_keys(args.owner)
            if args.json:
                _print_json({"keys": [_key_json(r) for r in records]})
            else:
                for r in records:
                    state = "revoked" if r.revoked_at is not None else "live"
                    print(
                        f"{r.id}  {r.prefix}…  {state:<7}  {_iso(r.created_at)}  "
                        f"owner {r.owner_subject}  {r.name}"
                        + (f"  scopes: {' '.join(r.scopes)}" if r.scopes else "")
                        + (f"  groups: {' '.join(r.groups)}" if r.groups else "")
                    )
            return EXIT_OK
        done = await service.store.revoke_api_key(args.key_id, owner_subject=None, now=time.time())
        if not done:
            raise UsageError(f"no live API key with id {args.key_id!r}")
        if args.json:
            _print_json({"revoked": True, "id": args.key_id})
        else:
            print(f"revoked {args.key_id}")
        return EXIT_OK
    finally:
        await service.store.close()


# --- limits: the login limiter's counters in the configured store ----------------------------


@command
def _limits(commands: Commands) -> None:
    group = _group(commands, "limits", "the login limits' counters in the configured store")
    parser = _parser(
        group,
        "clear",
        "lift the lock-out of one email (or Basic user name) now",
        "Forget the failed sign-in attempts of --email in <PREFIX>STORE_URL, so that it may sign\n"
        "in again before LOGIN_FAILURE_WINDOW has passed. The counters are keyed by an HMAC of\n"
        "the email under <PREFIX>AUTH_SECRET: give the server's.",
    )
    parser.add_argument(
        "--email", required=True, help="the email (or Basic user name), as the user types it"
    )
    _prefix_option(parser)
    parser.set_defaults(run=_run_limits_clear)


def _run_limits_clear(args: argparse.Namespace) -> int:
    import asyncio

    from tokenward.services import Services

    settings = _load_settings(args.prefix)
    if settings.auth_secret is None:
        raise UsageError(
            f"{settings.var('auth_secret')} is not set: a server without it keys its counters "
            "under a random secret of its own, which a restart replaces (lifting every lock-out)"
        )
    # the app's limiter (the service graph): the same counters, whatever the email's case
    services = Services(settings, warn=False)
    store, limiter = services.store, services.limiter

    async def clear() -> int:
        await store.open()
        try:
            return await limiter.clear(args.email)
        finally:
            await store.close()

    try:
        attempts = asyncio.run(clear())
    except tw.StoreError as exc:
        raise UsageError(f"the store failed: {exc}") from None
    if args.json:
        _print_json({"cleared": attempts, "email": args.email})
    else:
        print(f"{args.email}: {_plural(attempts, 'counted attempt')} cleared")
    return EXIT_OK


# --- jwks and keys rotate: the custom provider's signing keys ---------------------------------


def _with_dev_key_notice(settings: Any, build: Callable[[], Any]) -> Any:
    """``build()`` the signing keys, saying on stderr when they are the development key under
    ``.tokenward/`` in the current directory (no SIGNING_KEY_FILE), and whether this run wrote
    that private key there."""
    from tokenward.issuer import DEV_KEY_DIR, DEV_KEY_FILE

    dev = Path(DEV_KEY_DIR) / DEV_KEY_FILE
    existed = dev.exists()
    keys = build()
    if keys.path is not None and keys.path == dev:
        where = dev.resolve()
        unset = f"{settings.var('signing_key_file')} is not set"
        if existed:
            print(f"tokenward: {unset}: using the development key in {where}", file=sys.stderr)
        else:
            print(
                f"tokenward: {unset}: wrote a new private {settings.token_algorithm} signing key "
                f"to {where} (the development key the app also uses from this directory)",
                file=sys.stderr,
            )
    return keys


def _signing_keys(args: argparse.Namespace) -> Any:
    from tokenward.services import Services

    settings = _load_settings(args.prefix)
    if settings.auth_provider != "custom":
        raise UsageError(
            f"{settings.var('auth_provider')}={settings.auth_provider}: the issuer's keys are "
            "the identity provider's, not this app's"
        )
    # Without AUTH_SECRET only the HS256 tokens would differ (a random secret), and they have
    # no key ring.
    keys = _with_dev_key_notice(settings, lambda: Services(settings, warn=False).signing)
    if keys.ring is None:
        raise UsageError(
            f"{settings.var('token_algorithm')}=HS256: access tokens are signed with "
            f"{settings.var('auth_secret')}, so there are no public keys (set it to RS256, "
            "PS256, ES256 or EdDSA for a key ring)"
        )
    return keys


@command
def _jwks(commands: Commands) -> None:
    parser = _parser(
        commands,
        "jwks",
        "print the public key set of the configured issuer",
        "Print the public keys the custom provider's key ring publishes (what auth.jwks_router\n"
        "serves at JWKS_PATH): <PREFIX>TOKEN_ALGORITHM and SIGNING_KEY_FILE, or in development\n"
        "the ring kept under .tokenward/ in the current directory (made there, with a private\n"
        "key, when it is missing; stderr says so). Only public members; each key with kid,\n"
        "alg, use.",
    )
    _prefix_option(parser)
    parser.set_defaults(run=_run_jwks)


def _run_jwks(args: argparse.Namespace) -> int:
    _print_json(_signing_keys(args).ring.public_jwks())  # the JWK set is JSON either way
    return EXIT_OK


@command
def _keys(commands: Commands) -> None:
    group = _group(commands, "keys", "the custom provider's signing keys")
    parser = _parser(
        group,
        "rotate",
        "make a new signing key current (the previous one stays published)",
        "Rotate the key ring of <PREFIX>SIGNING_KEY_FILE (a JWK set; a PEM file cannot keep the\n"
        "previous keys) or of the development ring under .tokenward/, and save it. The previous\n"
        "key stays published until every token it signed has expired. Running servers read the\n"
        "file at start-up: restart them (one by one) after a rotation.",
    )
    _prefix_option(parser)
    parser.set_defaults(run=_run_keys_rotate)


def _run_keys_rotate(args: argparse.Namespace) -> int:
    from tokenward.issuer import rotate

    keys = _signing_keys(args)
    if keys.path is not None and keys.path.suffix == ".pem":
        raise UsageError(
            f"{keys.path} is a PEM file, which cannot keep the previous keys: convert it to a JWK "
            "set (tokenward keygen, or KeyRing.save) to rotate"
        )
    kid = rotate(keys)
    if args.json:
        _print_json({"current": kid, "kids": keys.ring.kids, "file": str(keys.path)})
    else:
        print(f"current key: {kid} (saved to {keys.path})")
    return EXIT_OK


# --- secret: rotating AUTH_SECRET ----------------------------------------------------------------


@command
def _secret(commands: Commands) -> None:
    group = _group(commands, "secret", "the app's AUTH_SECRET")
    parser = _parser(
        group,
        "rotate",
        "print a new random AUTH_SECRET and the steps of a rotation",
        "Print a new random secret (32 random bytes, URL-safe base64: 43 characters) on\n"
        "stdout and, on stderr, how to rotate <PREFIX>AUTH_SECRET to it with\n"
        "<PREFIX>AUTH_SECRET_PREVIOUS, so that what was made under the old secret keeps working\n"
        "until it expires. Nothing is changed: the settings are read only for their names and\n"
        "lifetimes.",
    )
    _prefix_option(parser)
    parser.set_defaults(run=_run_secret_rotate)


def _run_secret_rotate(args: argparse.Namespace) -> int:
    import secrets

    new = secrets.token_urlsafe(32)
    try:
        from tokenward.settings import AuthSettings

        settings: Any = AuthSettings.from_env(args.prefix)
    except (ImportError, tw.ConfigurationError):
        settings = None  # the steps name the defaults

    def var(name: str) -> str:
        return f"{args.prefix}{name.upper()}"

    refresh = 7 * 24 * 3600 if settings is None else settings.refresh_token_lifetime
    refresh_s = int(refresh if isinstance(refresh, int) else refresh.total_seconds())
    listed = settings is not None and settings.auth_secret_previous is not None
    steps = [
        f"On every instance: set {var('auth_secret_previous')} to the current "
        f"{var('auth_secret')}"
        + (" followed by a comma and the secrets it lists now" if listed else "")
        + f", and {var('auth_secret')} to the new secret; restart the instances. Everything "
        "new is then made under the new secret, and the access and refresh tokens, API keys and "
        "login lock-outs made under the old one keep working. (For a rolling restart in which "
        "no instance refuses what another made, first add the new secret to "
        f"{var('auth_secret_previous')} everywhere, {var('auth_secret')} unchanged, then swap.)",
        f"Wait for the longest lifetime: {var('refresh_token_lifetime')} ({refresh_s} s here), "
        "after which no refresh token made under the old secret is left (each refresh re-makes "
        f"it under the new one); access tokens ({var('access_token_lifetime')}) and lock-outs "
        f"({var('login_failure_window')}) end sooner.",
        "API keys do not move to the new secret: a key made under the old one keeps working only "
        f"while the old secret is listed in {var('auth_secret_previous')}, whatever its expiry. "
        "Before removing it, re-issue them: `tokenward api-key list` shows every key with its "
        "creation time; for each key created before the rotation, create its successor "
        "(POST /v1/api-keys, or `tokenward api-key create`), switch the client to it, then "
        "`tokenward api-key revoke ID` the old one.",
        f"Then remove the old secret from {var('auth_secret_previous')} on every instance and "
        "restart them.",
        "After a leak, skip the waiting: do not list the leaked secret at all (whoever holds it "
        "can sign tokens while it is listed); every session and API key made under it ends, and "
        "the keys must be re-issued.",
    ]
    if args.json:
        _print_json({"secret": new, "steps": steps})
        return EXIT_OK
    print(new)
    print(f"A new secret for {var('auth_secret')} (above, on stdout). To rotate:", file=sys.stderr)
    for number, step in enumerate(steps, 1):
        print(f"  {number}. {step}", file=sys.stderr)
    return EXIT_OK


# --- access: entitlements, role assignments and the resource hierarchy ------------------------


@command
def _access(commands: Commands) -> None:
    group = _group(commands, "access", "entitlements: check them, grant roles, set parents")
    check = _parser(
        group,
        "check",
        "may USER do ENTITLEMENT on RESOURCE? every reason when not",
        "Check ENTITLEMENT (e.g. project:delete) for USER (a subject) on RESOURCE (type:id)\n"
        "against the access definition --definition MODULE:ATTRIBUTE (a define_access()\n"
        "result) and the role assignments and hierarchy in the store. Prints allowed, or\n"
        "denied with every reason. --plan names the plan that applies (the app's plan_of\n"
        "decides it at run time). Exit code 0 allowed, 1 denied.",
    )
    check.add_argument("user", metavar="USER")
    check.add_argument("entitlement", metavar="ENTITLEMENT")
    check.add_argument("resource", metavar="RESOURCE", help="type:id, e.g. project:p1")
    check.add_argument("--definition", required=True, metavar="MODULE:ATTRIBUTE")
    check.add_argument("--app-dir", default=".", help="directory to import MODULE from")
    check.add_argument("--plan", help="the plan that applies to the resource")
    grant = _parser(group, "grant", "give USER a ROLE on RESOURCE", "Assign a role.")
    revoke = _parser(group, "revoke", "take a ROLE on RESOURCE from USER", "Revoke a role.")
    for parser in (grant, revoke):
        parser.add_argument("user", metavar="USER")
        parser.add_argument("role", metavar="ROLE")
        parser.add_argument("resource", metavar="RESOURCE", help="type:id")
    parent = _parser(
        group,
        "parent",
        "put RESOURCE under PARENT (or make it a root with --root)",
        "Move RESOURCE, with everything below it, under PARENT; refused when PARENT is below\n"
        "RESOURCE (a cycle).",
    )
    parent.add_argument("resource", metavar="RESOURCE", help="type:id")
    parent.add_argument("parent", metavar="PARENT", nargs="?", help="type:id")
    parent.add_argument("--root", action="store_true", help="detach RESOURCE from its parent")
    for parser, action in (
        (check, "check"),
        (grant, "grant"),
        (revoke, "revoke"),
        (parent, "parent"),
    ):
        _prefix_option(parser)
        parser.add_argument("--store", metavar="URL", help="the store (default: STORE_URL)")
        parser.set_defaults(run=_run_access, access_action=action)


def _resource_arg(text: str) -> tuple[str, str]:
    from tokenward.access import parse_resource

    try:
        return parse_resource(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _run_access(args: argparse.Namespace) -> int:
    import asyncio

    from tokenward.services import Services
    from tokenward.stores import AccessStore, open_store

    definition = None
    if args.access_action == "check":
        from tokenward.access import AccessDefinition

        definition = _import_app(args.definition, args.app_dir)
        if not isinstance(definition, AccessDefinition):
            raise UsageError(f"{args.definition!r} is not an access definition (define_access())")
    if args.store:
        store = open_store(args.store)
    else:  # the app's store (the service graph)
        store = Services(_load_settings(args.prefix), warn=False).store
    if not isinstance(store, AccessStore):
        raise UsageError(f"the store {type(store).__name__} keeps no role assignments")
    try:
        return asyncio.run(_access_action(args, store, definition))
    except tw.StoreError as exc:
        raise UsageError(f"the store failed: {exc}") from None


async def _access_action(args: argparse.Namespace, store: Any, definition: Any) -> int:
    from tokenward.access import AccessContext

    resource = _resource_arg(args.resource)
    try:
        await store.open()
        if args.access_action == "check":
            ctx = AccessContext(
                args.user,
                definition,
                store,
                plan_of=(lambda chain: args.plan) if args.plan else None,
            )
            try:
                result = await ctx.check(args.entitlement, resource)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            if args.json:
                _print_json(
                    {
                        "allowed": result.allowed,
                        "reasons": list(result.reasons),
                        "required_roles": list(result.meta.required_roles),
                        "required_plans": list(result.meta.required_plans),
                    }
                )
            elif result.allowed:
                print(f"allowed: {args.user} may {args.entitlement} on {args.resource}")
            else:
                print(f"denied: {args.user} may not {args.entitlement} on {args.resource}")
                for reason in result.reasons:
                    detail = {
                        "role_required": "needs one of the roles "
                        + ", ".join(result.meta.required_roles),
                        "plan_required": "needs one of the plans "
                        + ", ".join(result.meta.required_plans)
                        + f" (the plan: {result.meta.plan or 'none'})",
                        "hierarchy_denied": "holds no role on the resource or any ancestor",
                    }.get(reason, "")
                    print(f"  {reason}: {detail}")
            return EXIT_OK if result.allowed else EXIT_REJECTED
        if args.access_action == "parent":
            if (args.parent is None) == (not args.root):
                raise UsageError("give either PARENT or --root")
            parent = None if args.root else _resource_arg(args.parent)
            try:
                await store.set_parent(resource, parent)
            except ValueError as exc:  # HierarchyError included
                raise UsageError(str(exc)) from None
            changed = True
        else:
            method = store.assign_role if args.access_action == "grant" else store.revoke_role
            try:
                changed = await method(args.user, args.role, resource)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        if args.json:
            _print_json({"changed": changed})
        else:
            print("done" if changed else "nothing to change")
        return EXIT_OK
    finally:
        await store.close()


# --- totp ---------------------------------------------------------------------------------------


@command
def _totp(commands: Commands) -> None:
    group = _group(commands, "totp", "one-time passwords (RFC 6238), for tests and support")
    parser = _parser(
        group,
        "code",
        "print the TOTP code of a secret",
        "Print the TOTP code of SECRET (base32 as an authenticator app takes it: upper case,\n"
        "no padding) at --at (Unix seconds; now by default). A SECRET of - is read from standard\n"
        "input, so that it stays out of the shell history.",
    )
    parser.add_argument("secret", metavar="SECRET", help="the base32 secret, or - for stdin")
    parser.add_argument("--at", type=int, metavar="SECONDS", help="Unix time (default: now)")
    parser.add_argument("--digits", type=int, default=6, help="6 to 8 (default 6)")
    parser.add_argument("--period", type=int, default=30, metavar="SECONDS", help="default 30")
    parser.add_argument(
        "--algorithm", choices=("SHA1", "SHA256", "SHA512"), default="SHA1", help="default SHA1"
    )
    parser.set_defaults(run=_run_totp_code)


def _run_totp_code(args: argparse.Namespace) -> int:
    text = (sys.stdin.read() if args.secret == "-" else args.secret).strip()
    at = int(time.time()) if args.at is None else args.at
    secret = tw.base32_decode(text)  # InvalidKeyError: exit 2
    code = tw.totp_code(
        secret, at, digits=args.digits, period=args.period, algorithm=args.algorithm
    )
    if args.json:
        _print_json(
            {
                "code": code,
                "at": at,
                "step": at // args.period,
                "valid_for": args.period - at % args.period,
                "digits": args.digits,
                "period": args.period,
                "algorithm": args.algorithm,
            }
        )
    else:
        print(code)
    return EXIT_OK


command(cli_users.register_users)  # tokenward users ... (tokenward/cli_users.py)


# --- users mfa-reset (a subcommand of `tokenward users`) ----------------------------------------


@cli_users.users_subcommand
def _users_mfa_reset(users: Commands) -> None:
    parser = users.add_parser(
        "mfa-reset",
        help="turn a user's two-step sign-in off (a lost device, no recovery codes left)",
        description="Remove the TOTP factor of the account EMAIL (or id), its recovery codes "
        "and its sign-ins waiting for a second factor, and end every session of the user; the "
        "user signs in with the password alone and can enrol again. With --passkeys every "
        "passkey of the user goes too. Check who is asking out of band first: a reset is the "
        "weakest point of any second factor (docs/mfa.md).",
    )
    parser.add_argument("email", metavar="EMAIL", help="the account's e-mail (or its id)")
    parser.add_argument(
        "--passkeys",
        action="store_true",
        help="also remove every passkey of the user (a lost or stolen device, docs/passkeys.md)",
    )
    cli_users.add_common_options(parser)
    parser.set_defaults(run=_run_users_mfa_reset)


def _run_users_mfa_reset(args: argparse.Namespace) -> int:
    import asyncio
    from typing import cast

    from tokenward.services import Services
    from tokenward.stores.base import PasskeyStore
    from tokenward.users import normalize_email

    services = Services(_load_settings(args.prefix), warn=False)
    factors = services.second_factors
    if factors is None:
        raise UsageError("second factors belong to the custom provider's accounts")
    email = normalize_email(args.email)

    async def reset() -> tuple[str, bool, int] | None:
        await services.store.open()
        try:
            user = await factors.store.get_user_by_email(email)
            if user is None:
                user = await factors.store.get_user(args.email.strip())
            if user is None:
                return None
            passkeys = 0
            if args.passkeys:  # every backend store is a PasskeyStore (py_webauthn not needed)
                passkeys = await cast(PasskeyStore, services.store).delete_passkeys(user.id)
                if passkeys:
                    logging.getLogger("tokenward").warning(
                        "tokenward: %d passkey(s) of user %s removed", passkeys, user.id
                    )
            # the TOTP reset ends every session of the user, after the passkeys are gone
            return user.id, await factors.reset(user.id), passkeys
        finally:
            await services.store.close()

    try:
        found = asyncio.run(reset())
    except tw.StoreError as exc:
        raise UsageError(f"the store failed: {exc}") from None
    if found is None:
        raise UsageError(f"no user {args.email.strip()!r} (give an e-mail or an id)")
    user_id, removed, passkeys = found
    if args.json:
        answer: dict[str, object] = {"id": user_id, "removed": removed}
        if args.passkeys:
            answer["passkeys_removed"] = passkeys
        _print_json(answer)
    else:
        print("two-step sign-in removed" if removed else "two-step sign-in was not on")
        if args.passkeys:
            print(f"{passkeys} passkey(s) removed")
    return EXIT_OK
