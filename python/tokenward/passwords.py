"""Passwords for accounts: Argon2id hashes and the policy new passwords must meet.

Framework-free: nothing here knows FastAPI or a store. The hashing runs in the C++ core
(:class:`tokenward._core.Argon2id`, libsodium's ``crypto_pwhash_str``) with the GIL released, so
``await asyncio.to_thread(hasher.verify, stored, password)`` keeps an event loop serving other
requests while a sign-in is checked. See docs/accounts.md.

Passwords are NFKC-normalised before they are hashed or checked (:func:`normalize_password`), so
the same password typed on two keyboards (a full-width digit, a composed or decomposed accent)
gives the same hash. argon2-cffi and pwdlib do not normalise: a hash imported from them was made
over the password's raw UTF-8, so :meth:`PasswordHasher.verify` also tries the raw form when it
differs from the normalised one (``accept_unnormalized``), and
:meth:`PasswordHasher.verify_and_update` hands back a normalised rehash after such a match.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from tokenward._core import Argon2id, OneTimeTokens
from tokenward.exceptions import ConfigurationError, WeakPasswordError

__all__ = [
    "DEFAULT_MEMLIMIT",
    "DEFAULT_OPSLIMIT",
    "MAX_PASSWORD_BYTES",
    "MEMLIMIT_INTERACTIVE",
    "MEMLIMIT_MODERATE",
    "MEMLIMIT_SENSITIVE",
    "OPSLIMIT_INTERACTIVE",
    "OPSLIMIT_MODERATE",
    "OPSLIMIT_SENSITIVE",
    "OneTimeTokens",
    "PasswordHasher",
    "PasswordPolicy",
    "common_passwords",
    "normalize_password",
]

# libsodium's named Argon2id settings (crypto_pwhash_argon2id_*): passes and bytes of memory.
OPSLIMIT_INTERACTIVE = 2
MEMLIMIT_INTERACTIVE = 64 << 20
OPSLIMIT_MODERATE = 3
MEMLIMIT_MODERATE = 256 << 20
OPSLIMIT_SENSITIVE = 4
MEMLIMIT_SENSITIVE = 1 << 30

DEFAULT_OPSLIMIT = OPSLIMIT_INTERACTIVE
DEFAULT_MEMLIMIT = MEMLIMIT_INTERACTIVE

# The longest password hashed or verified, in bytes of UTF-8 after normalisation.
MAX_PASSWORD_BYTES: int = Argon2id.MAX_PASSWORD_BYTES


def normalize_password(password: str) -> str:
    """The form a password is hashed and checked in: Unicode NFKC (as NIST SP 800-63B §5.1.1.2
    recommends), nothing else: no trimming, no case folding."""
    if not isinstance(password, str):
        raise TypeError("password must be str")
    return unicodedata.normalize("NFKC", password)


def _has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (it then has no UTF-8 form)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _too_long(password: str) -> WeakPasswordError:
    return WeakPasswordError(
        f"the password is longer than {MAX_PASSWORD_BYTES} bytes of UTF-8", rules=("too_long",)
    )


class PasswordHasher:
    """Argon2id password hashes as PHC strings (``$argon2id$v=19$m=65536,t=2,p=1$...``).

    ``opslimit`` (passes, 2 to 32) and ``memlimit`` (bytes, a whole number of KiB from 19 MiB to
    4 GiB) default to libsodium's INTERACTIVE setting (2 passes over 64 MiB); parameters out of
    bounds raise :class:`~tokenward.exceptions.ConfigurationError`. Every method takes the
    password as ``str`` and normalises it (:func:`normalize_password`). Thread-safe; the GIL is
    released while hashing."""

    __slots__ = ("_accept_unnormalized", "_native")

    def __init__(
        self,
        *,
        opslimit: int = DEFAULT_OPSLIMIT,
        memlimit: int = DEFAULT_MEMLIMIT,
        accept_unnormalized: bool = True,
    ) -> None:
        if isinstance(opslimit, bool) or not isinstance(opslimit, int):
            raise ConfigurationError("opslimit must be an int")
        if isinstance(memlimit, bool) or not isinstance(memlimit, int):
            raise ConfigurationError("memlimit must be an int")
        if not (0 <= opslimit < 2**32 and 0 <= memlimit < 2**63):
            # the native bounds (2 to 32 passes, 19 MiB to 4 GiB) give the precise message
            raise ConfigurationError("opslimit and memlimit are out of range")
        self._native = Argon2id(opslimit=opslimit, memlimit=memlimit)
        self._accept_unnormalized = bool(accept_unnormalized)

    @property
    def opslimit(self) -> int:
        return self._native.opslimit

    @property
    def memlimit(self) -> int:
        return self._native.memlimit

    def __repr__(self) -> str:
        return f"<PasswordHasher opslimit={self.opslimit} memlimit={self.memlimit}>"

    def hash(self, password: str) -> str:
        """A new PHC string of the normalised password (a fresh random salt each time).
        :class:`~tokenward.exceptions.WeakPasswordError` (rule ``too_long``) past
        ``MAX_PASSWORD_BYTES``. Does not apply a policy: call :meth:`PasswordPolicy.check`
        first for a password a user chose."""
        normal = normalize_password(password)
        if len(normal.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            raise _too_long(normal)
        if _has_surrogate(normal):
            raise WeakPasswordError(
                "the password holds a lone surrogate, which is not text",
                rules=("invalid_characters",),
            )
        return self._native.hash(normal)

    def _candidates(self, password: str) -> tuple[str, ...]:
        normal = normalize_password(password)
        if self._accept_unnormalized and normal != password:
            return (normal, password)
        return (normal,)

    def verify(self, hash: str, password: str) -> bool:
        """Whether ``password`` matches the stored ``hash``. False for a wrong password;
        :class:`~tokenward.exceptions.PasswordHashError` for a hash that is not an Argon2id PHC
        string within bounds (bcrypt, argon2i, corrupt). When the normalised password differs
        from the one typed, the typed form is tried too (one more hash) unless the hasher was
        made with ``accept_unnormalized=False``."""
        return self.verify_and_update(hash, password)[0]

    def verify_and_update(self, hash: str, password: str) -> tuple[bool, str | None]:
        """``(matches, new_hash)``: ``new_hash`` is a fresh hash to store after a match when the
        stored one was made with other parameters (:meth:`needs_rehash`) or over the raw,
        unnormalised password (an imported hash); None otherwise. Sign-in code stores it, so
        raising the parameters upgrades each account at its next sign-in."""
        candidates = self._candidates(password)
        for index, candidate in enumerate(candidates):
            if self._native.verify(hash, candidate):
                if index > 0 or self._native.needs_rehash(hash):
                    try:
                        return True, self.hash(password)
                    except WeakPasswordError:  # NFKC made it longer than the bound: keep it
                        return True, None
                return True, None
        return False, None

    def verify_dummy(self, password: str) -> bool:
        """The work of a failed :meth:`verify` at this hasher's parameters, against a hash no
        password matches: run it for a sign-in with an unknown e-mail, so it costs what a wrong
        password for a known one costs. Always False."""
        for candidate in self._candidates(password):
            self._native.verify_dummy(candidate)
        return False

    def needs_rehash(self, hash: str) -> bool:
        """Whether ``hash`` was made with other parameters than this hasher's (passes, memory,
        one lane, 16-byte salt, 32-byte hash): true for every argon2-cffi/pwdlib default hash
        (``t=3,p=4``). :class:`~tokenward.exceptions.PasswordHashError` for a malformed hash."""
        return self._native.needs_rehash(hash)


# --- policy -------------------------------------------------------------------------------------

# The longest max_length a policy may set: 256 characters of up to 4 bytes each fit the hasher.
_MAX_POLICY_LENGTH = MAX_PASSWORD_BYTES // 4


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (case-folded) that the ``zxcvbn`` package ships (MIT
    licence; the list is ranked from leaked password corpora). Loaded once, on first use.
    :class:`~tokenward.exceptions.ConfigurationError` when zxcvbn is not installed
    (``pip install 'tokenward[accounts]'``)."""
    try:
        from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ConfigurationError(
            "the common-password check needs the zxcvbn package: pip install 'tokenward[accounts]'"
        ) from exc
    words = FREQUENCY_LISTS.get("passwords")
    if not isinstance(words, list) or not words:
        raise ConfigurationError("zxcvbn ships no list of common passwords")
    return frozenset(normalize_password(str(w)).casefold() for w in words)


def _is_symbol(ch: str) -> bool:
    """Punctuation, a symbol, or a space: anything that is not a letter, a digit or a control."""
    category = unicodedata.category(ch)
    return category[0] in "PSZ"


_RULE_TEXT = {
    "too_short": "at least {min} characters",
    "too_long": "at most {max} characters",
    "no_uppercase": "an uppercase letter",
    "no_lowercase": "a lowercase letter",
    "no_digit": "a digit",
    "no_symbol": "a symbol or punctuation mark",
    "common": "not one of the most common passwords",
    "invalid_characters": "only Unicode text (no lone surrogates)",
}


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false")


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number") from None


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The rules a new password (sign-up, reset, change) must meet: the knobs of Vertz's
    ``createAuth`` (minimum length, uppercase, digits, symbols) plus a maximum length, an
    optional lowercase rule and the common-password check. Lengths count characters (code
    points) of the NFKC-normalised password. The defaults follow NIST SP 800-63B: at least 8
    characters, no composition rules, and not a common password.
    :class:`~tokenward.exceptions.ConfigurationError` for an inconsistent policy."""

    min_length: int = 8
    max_length: int = 128
    require_uppercase: bool = False
    require_lowercase: bool = False
    require_digit: bool = False
    require_symbol: bool = False
    reject_common: bool = True

    def __post_init__(self) -> None:
        for name in ("min_length", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigurationError(f"{name} must be an int")
        if not 1 <= self.min_length <= self.max_length <= _MAX_POLICY_LENGTH:
            raise ConfigurationError(
                f"password lengths must satisfy 1 <= min_length <= max_length <= "
                f"{_MAX_POLICY_LENGTH} (got {self.min_length} and {self.max_length})"
            )
        if self.reject_common:
            common_passwords()  # fail at start-up, not at the first sign-up

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PasswordPolicy:
        """A policy from ``PASSWORD_MIN_LENGTH``, ``PASSWORD_MAX_LENGTH``,
        ``PASSWORD_REQUIRE_UPPERCASE``, ``PASSWORD_REQUIRE_LOWERCASE``,
        ``PASSWORD_REQUIRE_DIGIT``, ``PASSWORD_REQUIRE_SYMBOL`` and ``PASSWORD_REJECT_COMMON``
        (e.g. ``os.environ``); absent or empty names keep their defaults."""
        d = cls.__dataclass_fields__
        return cls(
            min_length=_env_int(env, "PASSWORD_MIN_LENGTH", d["min_length"].default),  # type: ignore[arg-type]
            max_length=_env_int(env, "PASSWORD_MAX_LENGTH", d["max_length"].default),  # type: ignore[arg-type]
            require_uppercase=_env_bool(env, "PASSWORD_REQUIRE_UPPERCASE", False),
            require_lowercase=_env_bool(env, "PASSWORD_REQUIRE_LOWERCASE", False),
            require_digit=_env_bool(env, "PASSWORD_REQUIRE_DIGIT", False),
            require_symbol=_env_bool(env, "PASSWORD_REQUIRE_SYMBOL", False),
            reject_common=_env_bool(env, "PASSWORD_REJECT_COMMON", True),
        )

    def broken_rules(self, password: str) -> tuple[str, ...]:
        """Every rule ``password`` breaks, in a fixed order; empty when it passes."""
        normal = normalize_password(password)
        broken: list[str] = []
        if len(normal) < self.min_length:
            broken.append("too_short")
        if len(normal) > self.max_length or len(normal.encode("utf-8", "surrogatepass")) > (
            MAX_PASSWORD_BYTES
        ):
            broken.append("too_long")
        if self.require_uppercase and not any(c.isupper() for c in normal):
            broken.append("no_uppercase")
        if self.require_lowercase and not any(c.islower() for c in normal):
            broken.append("no_lowercase")
        if self.require_digit and not any(unicodedata.category(c) == "Nd" for c in normal):
            broken.append("no_digit")
        if self.require_symbol and not any(_is_symbol(c) for c in normal):
            broken.append("no_symbol")
        if self.reject_common and normal.casefold() in common_passwords():
            broken.append("common")
        if _has_surrogate(normal):
            broken.append("invalid_characters")
        return tuple(broken)

    def check(self, password: str) -> None:
        """:class:`~tokenward.exceptions.WeakPasswordError` naming every broken rule (in
        ``rules`` and in the message), or nothing. The message never repeats the password."""
        broken = self.broken_rules(password)
        if broken:
            needs = "; ".join(
                _RULE_TEXT[r].format(min=self.min_length, max=self.max_length) for r in broken
            )
            raise WeakPasswordError(f"the password must have: {needs}", rules=broken)
