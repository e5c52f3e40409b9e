"""Second factors without a framework: TOTP with replay refusal, the Key URI, recovery codes.

The cryptography is C++ (:func:`tokenward._core.totp_verify`, :class:`RecoveryCodeHasher`);
this module adds what must be remembered between requests, behind two small protocols a store
implements:

* :class:`TotpSteps`: the last accepted TOTP time step per user. A code is accepted only when
  its step is later than the remembered one, and the comparison and the update are one atomic
  step, so a code (or an older one) works once even when two requests race with it.
* :class:`RecoveryCodeStore`: each user's unused recovery-code hashes, and an atomic "use this
  one" that succeeds once.

:class:`MemoryTotpSteps` and :class:`MemoryRecoveryCodes` implement them for one process (a
lock); a database store implements them with one conditional ``UPDATE`` or ``DELETE`` each (see
docs/mfa.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import quote

from tokenward._core import RecoveryCodeHasher, base32_encode, totp_code, totp_verify
from tokenward.exceptions import ConfigurationError

__all__ = [
    "MemoryRecoveryCodes",
    "MemoryTotpSteps",
    "RecoveryCodeStore",
    "RecoveryCodes",
    "TotpSteps",
    "TotpVerifier",
    "otpauth_uri",
]

MAX_LABEL_CHARS = 256


class TotpSteps(Protocol):
    """Where the last accepted TOTP step of each user is kept."""

    async def accept_totp_step(self, user_id: str, step: int) -> bool:
        """Atomically: when ``step`` is greater than the step remembered for ``user_id`` (or none
        is), remember ``step`` and return True; otherwise change nothing and return False."""
        ...


class MemoryTotpSteps:
    """:class:`TotpSteps` for one process: a dict under a lock (threads and event loops alike)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}

    async def accept_totp_step(self, user_id: str, step: int) -> bool:
        with self._lock:
            last = self._last.get(user_id)
            if last is not None and step <= last:
                return False
            self._last[user_id] = step
            return True

    def forget(self, user_id: str) -> None:
        """Drop what is remembered for ``user_id`` (when its TOTP secret is replaced or removed)."""
        with self._lock:
            self._last.pop(user_id, None)


class TotpVerifier:
    """Checks TOTP codes within ±``window`` steps and refuses a step once it has been accepted.

    ``verify`` returns the accepted time step, or None for a wrong code, a malformed one, or a
    replay (a code already accepted, or one older than the last accepted): the caller answers
    all three the same way and counts them against its rate limit."""

    def __init__(
        self,
        steps: TotpSteps,
        *,
        digits: int = 6,
        period: int = 30,
        algorithm: str = "SHA1",
        window: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The parameters are checked once, here, by the native core (ConfigurationError).
        totp_verify(
            b"\0" * 20, "", 0, digits=digits, period=period, algorithm=algorithm, window=window
        )
        self._steps = steps
        self._digits = digits
        self._period = period
        self._algorithm = algorithm
        self._window = window
        self._clock = clock

    async def verify(
        self, user_id: str, secret: bytes, code: str, *, at: int | None = None
    ) -> int | None:
        now = int(self._clock()) if at is None else at
        step = totp_verify(
            secret,
            code,
            now,
            digits=self._digits,
            period=self._period,
            algorithm=self._algorithm,
            window=self._window,
        )
        if step is None:
            return None
        if not await self._steps.accept_totp_step(user_id, step):
            return None
        return step


def otpauth_uri(
    secret: bytes,
    account: str,
    issuer: str,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "SHA1",
) -> str:
    """The Key URI an authenticator app scans (as a QR code) to enrol ``secret``:
    ``otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=…&digits=…&period=…``.

    The label and the parameters are percent-encoded (UTF-8; a space is ``%20``); the secret is
    base32 without padding. Neither ``issuer`` nor ``account`` may be empty, hold a colon (the
    label's separator) or exceed 256 characters: ConfigurationError."""
    # The native core checks the secret's size and the parameters (InvalidKeyError,
    # ConfigurationError).
    totp_code(secret, 0, digits=digits, period=period, algorithm=algorithm)
    for what, text in (("issuer", issuer), ("account", account)):
        if not isinstance(text, str):
            raise TypeError(f"{what} must be str")
        if not text or ":" in text or len(text) > MAX_LABEL_CHARS:
            raise ConfigurationError(
                f"the {what} must be 1 to {MAX_LABEL_CHARS} characters without a colon"
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigurationError(f"the {what} is not valid text") from None
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    query = "&".join(
        [
            f"secret={base32_encode(secret)}",
            f"issuer={quote(issuer, safe='')}",
            f"algorithm={algorithm}",
            f"digits={digits}",
            f"period={period}",
        ]
    )
    return f"otpauth://totp/{label}?{query}"


class RecoveryCodeStore(Protocol):
    """Where each user's recovery codes are kept, as hashes only."""

    async def recovery_code_hashes(self, user_id: str) -> list[str]:
        """The hashes of the user's unused codes."""
        ...

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        """Atomically mark one unused code used (or delete it): True for the one caller that did,
        False when it was used already or is not the user's."""
        ...


class MemoryRecoveryCodes:
    """:class:`RecoveryCodeStore` for one process: sets of hashes under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unused: dict[str, set[str]] = {}

    def replace(self, user_id: str, code_hashes: list[str]) -> None:
        """Give ``user_id`` these codes, and only these (a new set voids the old one)."""
        with self._lock:
            self._unused[user_id] = set(code_hashes)

    async def recovery_code_hashes(self, user_id: str) -> list[str]:
        with self._lock:
            return sorted(self._unused.get(user_id, ()))

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        with self._lock:
            unused = self._unused.get(user_id)
            if unused is None or code_hash not in unused:
                return False
            unused.remove(code_hash)
            return True


class RecoveryCodes:
    """Makes recovery codes and spends them: each works once.

    ``secret`` keys the hashes (at least 32 bytes; derive it from ``AUTH_SECRET``): a dump of the
    store alone cannot test guesses."""

    def __init__(self, store: RecoveryCodeStore, secret: str | bytes, *, count: int = 10) -> None:
        self._hasher = RecoveryCodeHasher(secret)
        RecoveryCodeHasher.new_codes(count)  # checks count (ConfigurationError) before any use
        self._store = store
        self._count = count

    def new_codes(self) -> tuple[list[str], list[str]]:
        """New codes to show the user once, and their hashes to store in their place."""
        codes = RecoveryCodeHasher.new_codes(self._count)
        return codes, [self._hasher.hash(code) for code in codes]

    async def use(self, user_id: str, code: str) -> bool:
        """Whether ``code`` (as typed: any case, dashes and spaces ignored) is one of the user's
        unused codes; if so it is used up, so the same code is refused from then on."""
        if RecoveryCodeHasher.normalize(code) is None:
            return False
        hashes = await self._store.recovery_code_hashes(user_id)
        index = self._hasher.find(code, hashes)
        if index is None:
            return False
        return await self._store.use_recovery_code(user_id, hashes[index])
