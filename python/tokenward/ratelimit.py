"""Login and refresh rate limits, kept in the store's counters so they hold across instances.

:class:`LoginLimiter` is the :class:`~tokenward.strategies.LoginGuard` of the debug login and of
HTTP Basic:

* at most ``max_failures`` password checks that fail for one user name (an email) within
  ``failure_window`` seconds. Each attempt reserves its place *before* its password is checked,
  in one atomic step of the store (:meth:`CounterStore.reserve`), so the limit holds however
  many guesses arrive at once; once the places are taken, every attempt for the user name is
  refused (:class:`~tokenward.RateLimitError`, 429 with ``Retry-After``) until the window has
  passed, a correct password included. A correct password gives back its own place
  (:meth:`LoginAttempt.succeeded`) and nothing else: failures stay counted until their window
  ends, whoever signs in meanwhile (:meth:`LoginLimiter.clear` lifts a lock-out at once);
* at most ``max_per_address`` attempts per client address per ``address_window``;
* refreshes: at most ``refresh_per_address`` per address per ``address_window``.

Each counter changes by one atomic statement of the store and expires by itself. A store that
fails raises :class:`~tokenward.StoreError` (503): the limiter fails closed, never open (an
attempt whose check raised keeps its place, as a failure). User names are kept only as keyed
hashes in the counters' keys. An unknown user name and a wrong password take the same path, so
the answer and its timing do not tell them apart.

Secret rotation (``AUTH_SECRET_PREVIOUS``): the hashes are keyed with :func:`limiter_key` of the
current secret; ``previous_keys`` (the same of each previous secret) name where failures were
counted before the rotation. They are read (not written) and count against ``max_failures`` until
their window ends, so rotating the secret does not lift a lock-out.

:func:`client_address` picks the address to count by one rule that gives no client a say,
whatever the server did with ``X-Forwarded-For`` beforehand: the socket's peer; behind a
trusted proxy, the right-most ``X-Forwarded-For`` entry that is not a trusted proxy (the first
hop a trusted proxy saw); and when the server may have replaced the peer with an entry of the
header without a trusted proxy vouching for it, the one shared address :data:`UNVERIFIED`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tokenward.exceptions import ConfigurationError, RateLimitError

if TYPE_CHECKING:
    from tokenward.stores import CounterStore

__all__ = [
    "DEFAULT_ADDRESS_WINDOW",
    "DEFAULT_FAILURE_WINDOW",
    "DEFAULT_MAX_FAILURES",
    "DEFAULT_MAX_PER_ADDRESS",
    "DEFAULT_REFRESH_PER_ADDRESS",
    "UNVERIFIED",
    "LoginAttempt",
    "LoginLimiter",
    "TrustedProxies",
    "client_address",
    "limiter_key",
]

DEFAULT_MAX_FAILURES = 5
DEFAULT_FAILURE_WINDOW = 15 * 60.0
DEFAULT_MAX_PER_ADDRESS = 20
DEFAULT_ADDRESS_WINDOW = 60.0
DEFAULT_REFRESH_PER_ADDRESS = 10

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """Addresses (or networks) of the proxies whose ``X-Forwarded-For`` may be believed."""

    __slots__ = ("_networks",)

    def __init__(self, entries: Sequence[str] = ()) -> None:
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ConfigurationError(f"{entry!r} is not an IP address or network") from None
        self._networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in net for net in self._networks)


UNVERIFIED = "unverified"
"""The address :func:`client_address` counts a request under when it cannot vouch for one."""


def _ip(text: str) -> str | None:
    """``text`` as a normalised IP address, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _hop(entry: str) -> str | None:
    """The IP address of one ``X-Forwarded-For`` entry, normalised: bare, ``v4:port`` or
    ``[v6]:port`` (the forms uvicorn reads); None when it holds none."""
    entry = entry.strip()
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not (rest[:1] == ":" and rest[1:].isdigit())):
            return None
        return _ip(host)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return _ip(host) if port.isdigit() else None
    return _ip(entry)


def client_address(
    peer: str | None, forwarded_for: Sequence[str] = (), trusted: TrustedProxies | None = None
) -> str | None:
    """The address the limits count for a request whose server gave ``peer`` as the client
    (the ASGI ``client``) and which carries the ``X-Forwarded-For`` headers ``forwarded_for``
    (all of them, in order), whatever the server did with those headers:

    1. no ``X-Forwarded-For`` entry: ``peer``;
    2. ``peer`` is a trusted proxy: the right-most entry that is not (``peer`` itself when an
       entry is garbled or every one is trusted);
    3. ``peer`` is not among the entries: it is the socket's peer, counted as it is;
    4. otherwise the server may have taken ``peer`` from the header (uvicorn does, for peers in
       its ``--forwarded-allow-ips``) and the socket's peer is unknown: ``peer`` counts only when
       proxies are trusted and it is the entry rule 2 picks; any other such request counts as
       :data:`UNVERIFIED`, one address shared by them all.

    So an address written by the client is never counted unless a trusted proxy vouched for it."""
    if peer is None:
        return None
    entries = [h for header in forwarded_for for h in header.split(",") if h.strip()]
    if not entries:
        return peer
    trusted = trusted if trusted is not None else TrustedProxies()
    nearest: str | None = None  # rule 2's pick: the right-most untrusted entry, if well formed
    for entry in reversed(entries):
        hop = _hop(entry)
        if hop is None:
            break
        if hop not in trusted:
            nearest = hop
            break
    if peer in trusted:
        return nearest if nearest is not None else peer
    as_ip = _ip(peer)
    if not any(_names(entry, peer, as_ip) for entry in entries):
        return peer
    if trusted and as_ip is not None and as_ip == nearest:
        return as_ip
    return UNVERIFIED


def _names(entry: str, peer: str, as_ip: str | None) -> bool:
    """Whether the ``X-Forwarded-For`` entry could be where a server took ``peer`` from: the
    same IP address, or the same text (a server may hand over what is not an address at all,
    ``unknown`` or ``anything:80``), with or without a port."""
    text = entry.strip()
    if text == peer or text.startswith((peer + ":", "[" + peer + "]")):
        return True
    return as_ip is not None and _hop(text) == as_ip


def limiter_key(secret: bytes) -> bytes:
    """The key of the user-name hashes in the limiter's counter keys, derived from the app's
    ``AUTH_SECRET`` (its UTF-8 bytes): the app and ``tokenward limits clear`` both use it."""
    return hmac.new(secret, b"tokenward login limiter v1", hashlib.sha256).digest()


class LoginAttempt:
    """A password check :meth:`LoginLimiter.check` let run. It holds one of the user name's
    ``max_failures`` places in the failure window and keeps it (a failure) unless
    :meth:`succeeded` gives it back."""

    __slots__ = ("_counters", "_key", "_reset_at")

    def __init__(self, counters: CounterStore, key: str, reset_at: float) -> None:
        self._counters = counters
        self._key = key
        self._reset_at = reset_at

    async def succeeded(self) -> None:
        """The password was right: this attempt's place is given back. Only this one: the
        failures of other attempts (from this address or any other) still count."""
        await self._counters.release(self._key, reset_at=self._reset_at)


class LoginLimiter:
    """Login and refresh limits over a :class:`~tokenward.stores.CounterStore` (see the module
    docstring). ``key`` keys the hashes of user names in counter keys (derive it from the
    app's secret; a random one per process also works, with per-process counters' names)."""

    def __init__(
        self,
        counters: CounterStore,
        *,
        key: bytes,
        max_failures: int = DEFAULT_MAX_FAILURES,
        failure_window: float = DEFAULT_FAILURE_WINDOW,
        max_per_address: int = DEFAULT_MAX_PER_ADDRESS,
        address_window: float = DEFAULT_ADDRESS_WINDOW,
        refresh_per_address: int = DEFAULT_REFRESH_PER_ADDRESS,
        clock: Callable[[], float] = time.time,
        previous_keys: Sequence[bytes] = (),
    ) -> None:
        for name, value in (
            ("max_failures", max_failures),
            ("max_per_address", max_per_address),
            ("refresh_per_address", refresh_per_address),
        ):
            if value < 1:
                raise ConfigurationError(f"{name} must be at least 1")
        if failure_window <= 0 or address_window <= 0:
            raise ConfigurationError("rate-limit windows must be positive")
        self.counters = counters
        self._key = bytes(key)
        self._previous = tuple(bytes(k) for k in previous_keys if bytes(k) != self._key)
        self.max_failures = int(max_failures)
        self.failure_window = float(failure_window)
        self.max_per_address = int(max_per_address)
        self.address_window = float(address_window)
        self.refresh_per_address = int(refresh_per_address)
        self._clock = clock

    def _user_key(self, username: str, key: bytes | None = None) -> str:
        name = username.strip().casefold().encode("utf-8", "surrogatepass")
        digest = hmac.new(self._key if key is None else key, name, hashlib.sha256).hexdigest()
        return "login-failures:" + digest[:40]

    async def _earlier(self, username: str, now: float) -> tuple[int, float]:
        """The user name's failures counted under the previous secrets' keys, and when enough
        of them will have expired to leave a place (``now`` when there is one already)."""
        counters = []
        for key in self._previous:
            counter = await self.counters.peek(self._user_key(username, key), now=now)
            if counter is not None and counter.count > 0:
                counters.append(counter)
        total = sum(c.count for c in counters)
        free_at = now
        for counter in sorted(counters, key=lambda c: c.reset_at):
            if total < self.max_failures:
                break
            total -= counter.count
            free_at = counter.reset_at
        return sum(c.count for c in counters), free_at

    async def _per_address(self, kind: str, address: str | None, limit: int) -> None:
        if address is None:
            return
        now = self._clock()
        counter = await self.counters.hit(
            f"{kind}-address:{address}", window=self.address_window, now=now
        )
        if counter.count > limit:
            raise RateLimitError(
                f"Too many {kind} attempts from this address.", retry_after=counter.reset_at - now
            )

    async def check(self, username: str, address: str | None) -> LoginAttempt:
        """Before a password is checked: count the attempt from ``address`` and reserve one of
        the user name's ``max_failures`` password checks, or raise RateLimitError. The attempt
        counts as a failure unless :meth:`LoginAttempt.succeeded` gives it back."""
        await self._per_address("login", address, self.max_per_address)
        now = self._clock()
        key = self._user_key(username)
        earlier, free_at = (0, now) if not self._previous else await self._earlier(username, now)
        if earlier >= self.max_failures:
            raise RateLimitError(
                "Too many failed sign-in attempts for this account.", retry_after=free_at - now
            )
        reservation = await self.counters.reserve(
            key, limit=self.max_failures - earlier, window=self.failure_window, now=now
        )
        if not reservation.granted:
            raise RateLimitError(
                "Too many failed sign-in attempts for this account.",
                retry_after=reservation.reset_at - now,
            )
        return LoginAttempt(self.counters, key, reservation.reset_at)

    async def clear(self, username: str) -> int:
        """Forget the user name's failures, lifting its lock-out now (``tokenward limits
        clear``); returns how many attempts its window held (0: none)."""
        held = 0
        for secret_key in (self._key, *self._previous):  # the previous secrets' counters too
            key = self._user_key(username, secret_key)
            counter = await self.counters.peek(key, now=self._clock())
            await self.counters.clear(key)
            held += 0 if counter is None else counter.count
        return held

    async def reserve(self, kind: str, name: str, *, limit: int, window: float) -> None:
        """One of ``limit`` places per ``window`` seconds for ``name`` under ``kind`` (the
        account routes: ``signup`` per email, ``forgot-password`` per email,
        ``resend-verification`` per user, ``reset-password`` per address), reserved in one
        atomic step of the store, so the limit holds under a burst; RateLimitError once they are
        taken. ``name`` is kept only as a keyed hash. A place is never given back."""
        digest = hmac.new(
            self._key, name.strip().casefold().encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()
        now = self._clock()
        reservation = await self.counters.reserve(
            f"{kind}:{digest[:40]}", limit=limit, window=window, now=now
        )
        if not reservation.granted:
            raise RateLimitError(
                f"Too many {kind} attempts.", retry_after=reservation.reset_at - now
            )

    async def check_refresh(self, address: str | None) -> None:
        """Before a refresh: RateLimitError past ``refresh_per_address`` per window."""
        await self._per_address("refresh", address, self.refresh_per_address)
