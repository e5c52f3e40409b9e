"""A remote JSON Web Key Set: fetched over HTTPS, cached, refreshed, and shared between callers.

``RemoteJWKS`` does the I/O (httpx, a sync and an async path) and nothing else. The cache's policy
— every decision below — is the native ``JWKSCache`` (cpp/src/jwks_cache.cpp): it says when a fetch
is due and hands exactly one caller a ticket for it; that caller makes the request here and gives
back the body, which the native core parses, caps and swaps in. Pass a ``RemoteJWKS`` as ``keys=``
to :class:`tokenward.Verifier` (it is a :class:`~tokenward.KeySource`): while the keys are fresh the
verifier reads the native cache directly, with no Python call; only a due refresh or an unknown kid
comes back here.

The cache, in order of the questions it answers (each number is a keyword argument):

* keys are *fresh* for ``ttl`` seconds after a good fetch; past that the next caller refreshes
  them, while every other caller keeps using the cached keys (they are still good);
* a fetch starts at most once per ``cooldown`` seconds, whatever asks for it (an expired
  ``ttl``, a token with an unknown kid, a burst of forged kids): the identity provider never sees
  more than one request per ``cooldown`` from this process;
* concurrent callers share one fetch: threads wait on it, coroutines await it (on any event loop),
  and nobody starts a second one;
* a fetch is one request with ``connect_timeout``/``read_timeout``, an overall ``deadline`` and
  ``retries`` more attempts after a network error or a 5xx; a body over ``max_bytes``, a non-200
  answer, or a document with no usable key counts as a failure;
* a failed refresh keeps the last good keys for up to ``max_stale`` seconds past their ``ttl``
  (and logs each failure on the ``tokenward.jwks`` logger); after that, or when there never were
  good keys, callers get :class:`~tokenward.KeySetUnavailableError` (a server answers 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tokenward._core import JWKSCache, JWKSet
from tokenward.exceptions import ConfigurationError, KeyNotFoundError, KeySetUnavailableError

if TYPE_CHECKING:
    import httpx

__all__ = ["RemoteJWKS"]

_log = logging.getLogger("tokenward.jwks")

DEFAULT_TTL = 600.0
DEFAULT_COOLDOWN = 30.0
DEFAULT_MAX_STALE = 24 * 3600.0
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 5.0
DEFAULT_DEADLINE = 10.0
DEFAULT_RETRIES = 1
DEFAULT_RETRY_BACKOFF = 0.2
DEFAULT_MAX_BYTES = 1 << 20
DEFAULT_MAX_KEYS = 100

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class _FetchError(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class _Flight:
    """One fetch in progress, which every caller (threads, coroutines on any loop) waits for."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop running it; None: a thread
        self.task: asyncio.Future[None] | None = None  # keeps the running task referenced
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def finish(self) -> None:
        with self._lock:
            self._done.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(_resolve, future)

    def wait(self, timeout: float) -> None:
        self._done.wait(timeout)

    async def wait_async(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._done.is_set():
                return
            self._waiters.append((loop, future))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(future, timeout)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _httpx() -> Any:
    """httpx, imported on first use: tokenward itself has no dependencies."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "RemoteJWKS needs httpx: pip install 'tokenward[cognito]' (or httpx itself)"
        ) from None
    return httpx


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive(name: str, value: float, *, zero: bool = False) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise ConfigurationError(f"{name} must be a number")
    if value < 0 or (value == 0 and not zero):
        raise ConfigurationError(f"{name} must be {'>= 0' if zero else '> 0'} (it is {value!r})")
    return float(value)


class RemoteJWKS:
    """The key set published at ``url``, cached and refreshed as described in the module docs.

    Each fetch uses a short-lived httpx client, so nothing stays open between fetches;
    ``client``/``async_client`` replace them (proxies, mTLS, a mock transport) and stay the
    caller's to close. ``url`` must be https, except on a loopback host or with
    ``allow_http=True`` (an emulator in a private network). ``headers`` are sent with each request
    (``user_agent`` sets User-Agent, ``tokenward/<version>`` by default: some WAFs refuse the
    default of HTTP libraries). ``clock`` (seconds, monotonic) is for tests. Safe to share between
    threads, event loops and verifiers.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = DEFAULT_TTL,
        cooldown: float = DEFAULT_COOLDOWN,
        max_stale: float = DEFAULT_MAX_STALE,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_keys: int = DEFAULT_MAX_KEYS,
        headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        allow_http: bool = False,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigurationError(f"the JWKS url must be an absolute https URL, not {url!r}")
        if parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
            raise ConfigurationError(
                f"the JWKS url {url!r} is plain http: anyone on the path could swap the keys; "
                "use https (or allow_http=True for an emulator on a private network)"
            )
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 5:
            raise ConfigurationError("retries must be an integer from 0 to 5")
        if not isinstance(max_bytes, int) or not 64 <= max_bytes <= (16 << 20):
            raise ConfigurationError("max_bytes must be between 64 bytes and 16 MiB")
        if not isinstance(max_keys, int) or not 1 <= max_keys <= 10_000:
            raise ConfigurationError("max_keys must be between 1 and 10000")
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning seconds")
        httpx = _httpx()
        self._url = url
        self._timeout = httpx.Timeout(
            connect=_positive("connect_timeout", connect_timeout),
            read=_positive("read_timeout", read_timeout),
            write=_positive("read_timeout", read_timeout),
            pool=_positive("connect_timeout", connect_timeout),
        )
        self._deadline = _positive("deadline", deadline)
        self._retries = retries
        self._backoff = _positive("retry_backoff", retry_backoff, zero=True)
        self._max_bytes = max_bytes
        self._max_keys = max_keys
        self._headers = _request_headers(headers, user_agent)
        self._clock = clock
        # The policy, in C++; time.monotonic is read natively there (no Python call per check).
        self._cache = JWKSCache(
            ttl=_positive("ttl", ttl),
            cooldown=_positive("cooldown", cooldown, zero=True),
            max_stale=_positive("max_stale", max_stale, zero=True),
            max_bytes=max_bytes,
            max_keys=max_keys,
            clock=None if clock is time.monotonic else clock,
        )
        self._settings = {"ttl": float(ttl), "cooldown": float(cooldown), "max_stale": max_stale}
        # Built once: making an SSL context reads the CA bundle, which must not happen on a loop
        # (httpx builds one for each client, even for http URLs).
        self._ssl: ssl.SSLContext = httpx.create_ssl_context()
        self._client = client
        self._async_client = async_client
        self._lock = threading.Lock()  # guards _flights, and the settling of a ticket
        self._flights: dict[int, _Flight] = {}

    # --- what callers read --------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<RemoteJWKS {self._url!r} generation={self._cache.generation}>"

    @property
    def url(self) -> str:
        return self._url

    @property
    def _tokenward_cache(self) -> JWKSCache:
        """The native cache a Verifier reads directly (see tokenward.keysource)."""
        return self._cache

    @property
    def keys(self) -> JWKSet | None:
        """The cached keys if they are still usable (fresh or within the stale bound); never
        fetches."""
        return self._cache.keys

    @property
    def generation(self) -> int:
        """Counts good fetches."""
        return self._cache.generation

    @property
    def last_error(self) -> str | None:
        """Why the last fetch failed; None after a good one."""
        return self._cache.last_error

    @property
    def fetch_attempts(self) -> int:
        """Fetches started so far (each may make 1 + ``retries`` requests)."""
        return self._cache.fetch_attempts

    @property
    def headers(self) -> dict[str, str]:
        """The headers sent with each request."""
        return dict(self._headers)

    @property
    def settings(self) -> dict[str, Any]:
        """The effective cache and fetch settings, for logs and the docs table."""
        return {
            **self._settings,
            "connect_timeout": self._timeout.connect,
            "read_timeout": self._timeout.read,
            "deadline": self._deadline,
            "retries": self._retries,
            "retry_backoff": self._backoff,
            "max_bytes": self._max_bytes,
            "max_keys": self._max_keys,
        }

    # --- sync API -----------------------------------------------------------------------------

    def get_keys(self) -> JWKSet:
        """Usable keys, fetching first if there are none or a refresh is due (and the cooldown
        allows). Raises KeySetUnavailableError when no usable keys can be had."""
        keys = self._cache.keys
        if keys is not None and self._cache.fresh:
            return keys  # the common case: no lock
        self._run(*self._cache.plan("keys"))
        return self._usable()

    def refresh(self) -> JWKSet:
        """Fetch now unless the cooldown forbids it (then return the cached keys); join a fetch
        already in progress."""
        self._run(*self._cache.plan("refresh"))
        return self._usable()

    def prefetch(self) -> JWKSet:
        """Fetch now, whatever the cooldown; KeySetUnavailableError if that fetch fails and no
        usable keys are cached."""
        self._run(*self._cache.plan("force"))
        return self._usable()

    def prewarm(self) -> JWKSet:
        """Have fresh keys before the first request (start-up): fetch unless they are fresh
        already, whatever the cooldown. KeySetUnavailableError if that fails."""
        if self._cache.fresh:
            return self._usable()
        self._run(*self._cache.plan("force"))
        return self._usable()

    def keys_for_kid(self, kid: str | None) -> JWKSet | None:
        """:class:`~tokenward.KeySource`: a token names a key we lack. Refresh (within the
        cooldown) and return keys that hold ``kid``; None if there are none (the kid is unknown);
        KeySetUnavailableError if the keys cannot be fetched (a rotated key and a forged kid
        cannot be told apart)."""
        before = self._cache.generation
        self._run(*self._cache.plan("refresh"))
        return self._after_refresh(kid, before)

    # --- async API ----------------------------------------------------------------------------

    async def get_keys_async(self) -> JWKSet:
        """:meth:`get_keys` without blocking the event loop."""
        keys = self._cache.keys
        if keys is not None and self._cache.fresh:
            return keys
        await self._run_async(*self._cache.plan("keys"))
        return self._usable()

    async def refresh_async(self) -> JWKSet:
        """:meth:`refresh` without blocking the event loop."""
        await self._run_async(*self._cache.plan("refresh"))
        return self._usable()

    async def prefetch_async(self) -> JWKSet:
        """:meth:`prefetch` without blocking the event loop."""
        await self._run_async(*self._cache.plan("force"))
        return self._usable()

    async def prewarm_async(self) -> JWKSet:
        """:meth:`prewarm` without blocking the event loop."""
        if self._cache.fresh:
            return self._usable()
        await self._run_async(*self._cache.plan("force"))
        return self._usable()

    async def keys_for_kid_async(self, kid: str | None) -> JWKSet | None:
        """:meth:`keys_for_kid` without blocking the event loop."""
        before = self._cache.generation
        await self._run_async(*self._cache.plan("refresh"))
        return self._after_refresh(kid, before)

    # --- after a decision ---------------------------------------------------------------------

    def _usable(self) -> JWKSet:
        keys = self._cache.keys
        if keys is None:
            reason = self._cache.last_error or "no keys fetched yet"
            raise KeySetUnavailableError(f"no usable keys from {self._url}: {reason}")
        return keys

    def _after_refresh(self, kid: str | None, before: int) -> JWKSet | None:
        keys = self._usable()
        if kid is not None and _holds_kid(keys, kid):
            return keys  # the refresh (ours or another caller's) brought it
        if kid is None and self._cache.generation != before:
            return keys
        error = self._cache.last_error
        if error is not None:
            raise KeySetUnavailableError(
                f"the token names a key that is not cached, and {self._url} "
                f"cannot be fetched: {error}"
            )
        return None

    def _flight(self, ticket: int) -> _Flight | None:
        """The flight of ``ticket`` to wait for; None when it is over already."""
        with self._lock:
            if not self._cache.in_flight(ticket):
                return None
            flight = self._flights.get(ticket)
            if flight is None:
                flight = self._flights[ticket] = _Flight()
            return flight

    def _settle(self, ticket: int, body: bytes | None, error: str) -> None:
        with self._lock:  # settled and unregistered together: see _flight
            if body is not None:
                outcome, left, count, reason = self._cache.complete(ticket, body)
            else:
                outcome, left, count, reason = self._cache.fail(ticket, error)
            flight = self._flights.pop(ticket, None)
        if outcome == "swapped":
            _log.debug("fetched %d keys from %s", count, self._url)
        elif outcome == "kept_stale":
            _log.warning(
                "cannot refresh the keys from %s (%s); keeping the last good keys for "
                "at most %.0f s more",
                self._url,
                reason,
                left,
            )
        else:
            _log.error("no usable keys from %s: %s", self._url, reason)
        if flight is not None:
            flight.finish()

    def _wait_timeout(self) -> float:
        return (self._deadline + self._backoff) * (self._retries + 1) + 1.0

    # --- sync path ----------------------------------------------------------------------------

    def _run(self, action: str, ticket: int) -> None:
        if action == "use":
            return
        if action == "fetch":
            body: bytes | None = None
            error = "the fetch failed"
            try:
                body = self._fetch_sync()
            except _FetchError as exc:
                error = str(exc)
            except Exception as exc:  # fail closed (503), never a crash in a request
                _log.exception("unexpected error while fetching %s", self._url)
                error = f"unexpected {type(exc).__name__}"
            finally:
                self._settle(ticket, body, error)
            return
        flight = self._flight(ticket)
        if flight is not None and not _on_loop(flight.loop):  # never wait for our own loop
            flight.wait(self._wait_timeout())

    def _fetch_sync(self) -> bytes:
        attempt = 0
        while True:
            try:
                return self._download_sync()
            except _FetchError as exc:
                if not exc.retry or attempt >= self._retries:
                    raise
                _log.info("fetching %s failed (%s); retrying once more", self._url, exc)
            attempt += 1
            time.sleep(self._backoff)

    def _download_sync(self) -> bytes:
        return self._get_sync(self._url, self._max_bytes)

    def _get_sync(self, url: str, max_bytes: int) -> bytes:
        """One GET of ``url``: a 200 answer's body of at most ``max_bytes``, within the deadline
        (a subclass fetching another document first reuses it)."""
        hx = _httpx()
        stop = time.monotonic() + self._deadline
        client = self._client
        try:
            with contextlib.ExitStack() as stack:
                if client is None:  # one per fetch: a fetch is rare, and nothing is left open
                    client = stack.enter_context(
                        hx.Client(verify=self._ssl, timeout=self._timeout, follow_redirects=False)
                    )
                with client.stream(
                    "GET", url, headers=self._headers, timeout=self._timeout
                ) as response:
                    self._check_response(response, max_bytes)
                    body = bytearray()
                    for chunk in response.iter_raw():
                        body += chunk
                        self._check_progress(body, stop, max_bytes)
                    return bytes(body)
        except hx.HTTPError as exc:
            raise _FetchError(_describe(exc), retry=True) from None

    # --- async path ---------------------------------------------------------------------------

    async def _run_async(self, action: str, ticket: int) -> None:
        if action == "use":
            return
        if action == "fetch":
            flight = self._flight(ticket)
            task = asyncio.ensure_future(self._fly_async(ticket))
            if flight is not None:
                flight.loop = asyncio.get_running_loop()
                flight.task = task  # keeps the running task referenced
            # A task of its own, shielded: a caller that is cancelled (a client hung up) does not
            # cancel the fetch the other callers wait for.
            await asyncio.shield(task)
            return
        flight = self._flight(ticket)
        if flight is not None:
            await flight.wait_async(self._wait_timeout())

    async def _fly_async(self, ticket: int) -> None:
        body: bytes | None = None
        error = "the fetch was cancelled"
        try:
            body = await self._fetch_async()
        except _FetchError as exc:
            error = str(exc)
        except Exception as exc:  # fail closed (503), never a crash in a request
            _log.exception("unexpected error while fetching %s", self._url)
            error = f"unexpected {type(exc).__name__}"
        finally:
            self._settle(ticket, body, error)

    async def _fetch_async(self) -> bytes:
        attempt = 0
        while True:
            try:
                return await self._download_async()
            except _FetchError as exc:
                if not exc.retry or attempt >= self._retries:
                    raise
                _log.info("fetching %s failed (%s); retrying once more", self._url, exc)
            attempt += 1
            await asyncio.sleep(self._backoff)

    async def _download_async(self) -> bytes:
        return await self._get_async(self._url, self._max_bytes)

    async def _get_async(self, url: str, max_bytes: int) -> bytes:
        """:meth:`_get_sync` without blocking the event loop."""
        hx = _httpx()
        stop = time.monotonic() + self._deadline
        try:
            async with contextlib.AsyncExitStack() as stack:
                client: httpx.AsyncClient
                if self._async_client is not None:
                    client = self._async_client
                else:
                    client = await stack.enter_async_context(
                        hx.AsyncClient(
                            verify=self._ssl, timeout=self._timeout, follow_redirects=False
                        )
                    )
                async with asyncio.timeout(self._deadline):
                    async with client.stream(
                        "GET", url, headers=self._headers, timeout=self._timeout
                    ) as response:
                        self._check_response(response, max_bytes)
                        body = bytearray()
                        async for chunk in response.aiter_raw():
                            body += chunk
                            self._check_progress(body, stop, max_bytes)
                        return bytes(body)
        except TimeoutError:
            raise _FetchError(
                f"no complete answer within {self._deadline:g} s", retry=True
            ) from None
        except hx.HTTPError as exc:
            raise _FetchError(_describe(exc), retry=True) from None

    # --- shared checks ------------------------------------------------------------------------

    def _check_response(self, response: httpx.Response, max_bytes: int) -> None:
        status = response.status_code
        if status != 200:
            raise _FetchError(f"HTTP {status}", retry=status >= 500 or status == 429)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise _FetchError(f"unrequested content-encoding {encoding!r}", retry=False)
        length = response.headers.get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > max_bytes):
            raise _FetchError(f"the answer is over {max_bytes} bytes", retry=False)

    def _check_progress(self, body: bytearray, stop: float, max_bytes: int) -> None:
        if len(body) > max_bytes:
            raise _FetchError(f"the answer is over {max_bytes} bytes", retry=False)
        if time.monotonic() > stop:
            raise _FetchError(f"no complete answer within {self._deadline:g} s", retry=True)


def _request_headers(headers: Mapping[str, str] | None, user_agent: str | None) -> dict[str, str]:
    """The request headers: ours, the caller's (which win), and a User-Agent."""
    out = {
        "Accept": "application/json",
        "Accept-Encoding": "identity",
        "User-Agent": f"tokenward/{_version()}",
    }
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ConfigurationError("headers must map str names to str values")
        if not name or any(c in name for c in " :\r\n\t") or any(c in value for c in "\r\n"):
            raise ConfigurationError(f"header {name!r} is not a valid HTTP header")
        if name.lower() == "accept-encoding":
            raise ConfigurationError("Accept-Encoding is fixed (the body is read without decoding)")
        for existing in [k for k in out if k.lower() == name.lower()]:
            del out[existing]
        out[name] = value
    if user_agent is not None:
        if (
            not isinstance(user_agent, str)
            or not user_agent
            or any(c in user_agent for c in "\r\n")
        ):
            raise ConfigurationError("user_agent must be a non-empty single-line string")
        for existing in [k for k in out if k.lower() == "user-agent"]:
            del out[existing]
        out["User-Agent"] = user_agent
    return out


def _holds_kid(keys: JWKSet, kid: str) -> bool:
    """True if ``keys`` has a key named ``kid`` (or several: the verifier then reports that)."""
    try:
        return keys.get(kid) is not None
    except KeyNotFoundError:  # ambiguous
        return True


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tokenward")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "0"


def _on_loop(loop: asyncio.AbstractEventLoop | None) -> bool:
    if loop is None:
        return False
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _describe(exc: httpx.HTTPError) -> str:
    name = type(exc).__name__
    text = str(exc)
    return f"{name}: {text}" if text else name
