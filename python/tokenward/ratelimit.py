"""Login and refresh rate limits, kept in the store's counters so they hold across instances.

:class:`LoginLimiter` is the :class:`~tokenward.strategies.LoginGuard` of the debug login and of
HTTP Basic:

* after ``max_failures`` failed attempts for one user name (an email) within
  ``failure_window`` seconds, every attempt for it is refused (:class:`~tokenward.RateLimitError`,
  429 with ``Retry-After``) until that window has passed, a correct password included;
* at most ``max_per_address`` attempts per client address per ``address_window``;
* refreshes: at most ``refresh_per_address`` per address per ``address_window``.

Each counter is one atomic statement of the store (:meth:`CounterStore.hit`) and expires by
itself. A store that fails raises :class:`~tokenward.StoreError` (503): the limiter fails closed,
never open. User names are kept only as keyed hashes in the counters' keys. An unknown user name
and a wrong password take the same path, so the answer and its timing do not tell them apart.

:func:`client_address` picks the address to count: the socket's peer, unless the peer is a
trusted proxy, in which case the right-most ``X-Forwarded-For`` entry that is not a trusted
proxy (the first hop a trusted proxy saw).
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
    "LoginLimiter",
    "TrustedProxies",
    "client_address",
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


def client_address(
    peer: str | None, forwarded_for: Sequence[str] = (), trusted: TrustedProxies | None = None
) -> str | None:
    """The client's address: ``peer`` (the socket's), or — when ``peer`` is a trusted proxy —
    the right-most ``X-Forwarded-For`` entry (all headers, in order) that is not trusted."""
    if peer is None or not trusted or peer not in trusted:
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a forged or garbled entry: count the proxy instead
    return peer


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
        self.max_failures = int(max_failures)
        self.failure_window = float(failure_window)
        self.max_per_address = int(max_per_address)
        self.address_window = float(address_window)
        self.refresh_per_address = int(refresh_per_address)
        self._clock = clock

    def _user_key(self, username: str) -> str:
        name = username.strip().casefold().encode("utf-8", "surrogatepass")
        return "login-failures:" + hmac.new(self._key, name, hashlib.sha256).hexdigest()[:40]

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

    async def check(self, username: str, address: str | None) -> None:
        """Before a password is checked: RateLimitError when either limit is reached."""
        await self._per_address("login", address, self.max_per_address)
        now = self._clock()
        failures = await self.counters.peek(self._user_key(username), now=now)
        if failures is not None and failures.count >= self.max_failures:
            raise RateLimitError(
                "Too many failed sign-in attempts for this account.",
                retry_after=failures.reset_at - now,
            )

    async def failed(self, username: str, address: str | None) -> None:
        """After a wrong password (or an unknown user name: the same call)."""
        await self.counters.hit(
            self._user_key(username), window=self.failure_window, now=self._clock()
        )

    async def succeeded(self, username: str, address: str | None) -> None:
        """After a good password: earlier failures no longer count."""
        await self.counters.clear(self._user_key(username))

    async def check_refresh(self, address: str | None) -> None:
        """Before a refresh: RateLimitError past ``refresh_per_address`` per window."""
        await self._per_address("refresh", address, self.refresh_per_address)
