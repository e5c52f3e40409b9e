"""A remote JSON Web Key Set: fetched over HTTPS, cached, refreshed, and shared between callers.

``RemoteJWKS`` does the I/O (httpx, a sync and an async path); parsing and every check of a key
happen in the native core (:meth:`tokenward.JWKSet.from_json`). Pass it as ``keys=`` to
:class:`tokenward.Verifier`, which asks it for keys before each verification and for a refresh
when a token names a key it does not hold.

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
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from tokenward._core import JWKSet
from tokenward.exceptions import ConfigurationError, KeySetUnavailableError, TokenwardError

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


class _Snapshot(NamedTuple):
    """What the cache holds, replaced as a whole so that readers need no lock."""

    generation: int  # bumped by each good fetch; 0 = never fetched
    keys: JWKSet | None  # None: no usable keys
    fresh_until: float  # clock() before which no refresh is due
    usable_until: float  # clock() before which the keys may be used (the stale bound)


_EMPTY = _Snapshot(0, None, float("-inf"), float("-inf"))


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
    ``allow_http=True`` (an emulator in a private network). ``clock`` (seconds, monotonic) is for
    tests. Safe to share between threads, event loops and verifiers.
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
        httpx = _httpx()
        self._url = url
        self._ttl = _positive("ttl", ttl)
        self._cooldown = _positive("cooldown", cooldown, zero=True)
        self._max_stale = _positive("max_stale", max_stale, zero=True)
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
        self._headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        self._headers.update(headers or {})
        self._clock = clock
        # Built once: making an SSL context reads the CA bundle, which must not happen on a loop
        # (httpx builds one for each client, even for http URLs).
        self._ssl: ssl.SSLContext = httpx.create_ssl_context()
        self._client = client
        self._async_client = async_client
        self._lock = threading.Lock()
        self._snapshot = _EMPTY
        self._flight: _Flight | None = None
        self._attempted_at: float | None = None
        self._last_error: str | None = None
        self._fetches = 0

    # --- what callers read --------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<RemoteJWKS {self._url!r} generation={self._snapshot.generation}>"

    @property
    def url(self) -> str:
        return self._url

    @property
    def keys(self) -> JWKSet | None:
        """The cached keys if they are still usable (fresh or within the stale bound); never
        fetches."""
        snap = self._snapshot
        return snap.keys if snap.keys is not None and self._clock() < snap.usable_until else None

    @property
    def generation(self) -> int:
        """Counts good fetches; a verifier swaps its keys when this moves."""
        return self._snapshot.generation

    @property
    def last_error(self) -> str | None:
        """Why the last fetch failed; None after a good one."""
        return self._last_error

    @property
    def fetch_attempts(self) -> int:
        """Fetches started so far (each may make 1 + ``retries`` requests)."""
        return self._fetches

    @property
    def settings(self) -> dict[str, Any]:
        """The effective cache and fetch settings, for logs and the docs table."""
        return {
            "ttl": self._ttl,
            "cooldown": self._cooldown,
            "max_stale": self._max_stale,
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
        return self._keys_of(self._current())

    def refresh(self) -> JWKSet:
        """Fetch now unless the cooldown forbids it (then return the cached keys); join a fetch
        already in progress."""
        return self._keys_of(self._refreshed())

    def prefetch(self) -> JWKSet:
        """Fetch now, whatever the cooldown (start-up warm-up); KeySetUnavailableError if that
        fetch fails and no usable keys are cached."""
        return self._keys_of(self._refreshed(force=True))

    # --- async API ----------------------------------------------------------------------------

    async def get_keys_async(self) -> JWKSet:
        """:meth:`get_keys` without blocking the event loop."""
        return self._keys_of(await self._current_async())

    async def refresh_async(self) -> JWKSet:
        """:meth:`refresh` without blocking the event loop."""
        return self._keys_of(await self._refreshed_async())

    async def prefetch_async(self) -> JWKSet:
        """:meth:`prefetch` without blocking the event loop."""
        return self._keys_of(await self._refreshed_async(force=True))

    # --- the decisions (under the lock) -------------------------------------------------------

    def _keys_of(self, snap: _Snapshot) -> JWKSet:
        if snap.keys is None or self._clock() >= snap.usable_until:
            raise self._unavailable()
        return snap.keys

    def _unavailable(self) -> KeySetUnavailableError:
        reason = self._last_error or "no keys fetched yet"
        return KeySetUnavailableError(f"no usable keys from {self._url}: {reason}")

    def _plan(self, *, refresh: bool, force: bool) -> tuple[_Snapshot, _Flight | None, bool]:
        """Decide, under the lock: return (snapshot, flight to wait for or run, whether we run it).

        ``refresh`` asks for new keys (an unknown kid); otherwise new keys are wanted only when
        none are usable or the fresh period is over.
        """
        with self._lock:
            now = self._clock()
            snap = self._snapshot
            usable = snap.keys is not None and now < snap.usable_until
            if not refresh and usable and now < snap.fresh_until:
                return snap, None, False
            if self._flight is not None:
                if usable and not refresh:
                    return snap, None, False  # someone refreshes; the cached keys still serve
                return snap, self._flight, False
            cooled = self._attempted_at is None or now >= self._attempted_at + self._cooldown
            if not (cooled or force):
                return snap, None, False
            self._attempted_at = now
            self._fetches += 1
            self._flight = _Flight()
            return snap, self._flight, True

    def _settle(self, flight: _Flight, keys: JWKSet | None, error: str | None) -> None:
        with self._lock:
            now = self._clock()
            old = self._snapshot
            if keys is not None:
                self._snapshot = _Snapshot(
                    old.generation + 1, keys, now + self._ttl, now + self._ttl + self._max_stale
                )
                self._last_error = None
                _log.debug("fetched %d keys from %s", len(keys), self._url)
            else:
                self._last_error = error
                if old.keys is not None and now < old.usable_until:
                    _log.warning(
                        "cannot refresh the keys from %s (%s); keeping the last good keys for "
                        "at most %.0f s more",
                        self._url,
                        error,
                        old.usable_until - now,
                    )
                else:
                    if old.keys is not None:
                        self._snapshot = _Snapshot(old.generation, None, old.fresh_until, now)
                    _log.error("no usable keys from %s: %s", self._url, error)
            if self._flight is flight:
                self._flight = None
        flight.finish()

    def _wait_timeout(self) -> float:
        return (self._deadline + self._backoff) * (self._retries + 1) + 1.0

    # --- sync path ----------------------------------------------------------------------------

    def _current(self) -> _Snapshot:
        snap = self._snapshot
        if snap.keys is not None and self._clock() < snap.fresh_until:
            return snap  # the common case: no lock
        return self._run(*self._plan(refresh=False, force=False))

    def _refreshed(self, *, force: bool = False) -> _Snapshot:
        return self._run(*self._plan(refresh=True, force=force))

    def _run(self, snap: _Snapshot, flight: _Flight | None, mine: bool) -> _Snapshot:
        if flight is None:
            return snap
        if mine:
            keys, error = None, "the fetch failed"
            try:
                keys = self._fetch_sync()
            except _FetchError as exc:
                error = str(exc)
            except Exception as exc:  # fail closed (503), never a crash in a request
                _log.exception("unexpected error while fetching %s", self._url)
                error = f"unexpected {type(exc).__name__}"
            finally:
                self._settle(flight, keys, error)
        elif not _on_loop(flight.loop):  # a thread never waits for its own loop (deadlock)
            flight.wait(self._wait_timeout())
        return self._snapshot

    def _fetch_sync(self) -> JWKSet:
        attempt = 0
        while True:
            try:
                return self._parse(self._download_sync())
            except _FetchError as exc:
                if not exc.retry or attempt >= self._retries:
                    raise
                _log.info("fetching %s failed (%s); retrying once more", self._url, exc)
            attempt += 1
            time.sleep(self._backoff)

    def _download_sync(self) -> bytes:
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
                    "GET", self._url, headers=self._headers, timeout=self._timeout
                ) as response:
                    self._check_response(response)
                    body = bytearray()
                    for chunk in response.iter_raw():
                        body += chunk
                        self._check_progress(body, stop)
                    return bytes(body)
        except hx.HTTPError as exc:
            raise _FetchError(_describe(exc), retry=True) from None

    # --- async path ---------------------------------------------------------------------------

    async def _current_async(self) -> _Snapshot:
        snap = self._snapshot
        if snap.keys is not None and self._clock() < snap.fresh_until:
            return snap
        return await self._run_async(*self._plan(refresh=False, force=False))

    async def _refreshed_async(self, *, force: bool = False) -> _Snapshot:
        return await self._run_async(*self._plan(refresh=True, force=force))

    async def _run_async(self, snap: _Snapshot, flight: _Flight | None, mine: bool) -> _Snapshot:
        if flight is None:
            return snap
        if mine:
            flight.loop = asyncio.get_running_loop()
            # A task of its own, shielded: a caller that is cancelled (a client hung up) does not
            # cancel the fetch the other callers wait for.
            flight.task = asyncio.ensure_future(self._fly_async(flight))
            await asyncio.shield(flight.task)
        else:
            await flight.wait_async(self._wait_timeout())
        return self._snapshot

    async def _fly_async(self, flight: _Flight) -> None:
        keys, error = None, "the fetch was cancelled"
        try:
            keys = await self._fetch_async()
        except _FetchError as exc:
            error = str(exc)
        except Exception as exc:  # fail closed (503), never a crash in a request
            _log.exception("unexpected error while fetching %s", self._url)
            error = f"unexpected {type(exc).__name__}"
        finally:
            self._settle(flight, keys, error)

    async def _fetch_async(self) -> JWKSet:
        attempt = 0
        while True:
            try:
                return self._parse(await self._download_async())
            except _FetchError as exc:
                if not exc.retry or attempt >= self._retries:
                    raise
                _log.info("fetching %s failed (%s); retrying once more", self._url, exc)
            attempt += 1
            await asyncio.sleep(self._backoff)

    async def _download_async(self) -> bytes:
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
                        "GET", self._url, headers=self._headers, timeout=self._timeout
                    ) as response:
                        self._check_response(response)
                        body = bytearray()
                        async for chunk in response.aiter_raw():
                            body += chunk
                            self._check_progress(body, stop)
                        return bytes(body)
        except TimeoutError:
            raise _FetchError(
                f"no complete answer within {self._deadline:g} s", retry=True
            ) from None
        except hx.HTTPError as exc:
            raise _FetchError(_describe(exc), retry=True) from None

    # --- shared checks ------------------------------------------------------------------------

    def _check_response(self, response: httpx.Response) -> None:
        status = response.status_code
        if status != 200:
            raise _FetchError(f"HTTP {status}", retry=status >= 500 or status == 429)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise _FetchError(f"unrequested content-encoding {encoding!r}", retry=False)
        length = response.headers.get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self._max_bytes):
            raise _FetchError(f"the answer is over {self._max_bytes} bytes", retry=False)

    def _check_progress(self, body: bytearray, stop: float) -> None:
        if len(body) > self._max_bytes:
            raise _FetchError(f"the answer is over {self._max_bytes} bytes", retry=False)
        if time.monotonic() > stop:
            raise _FetchError(f"no complete answer within {self._deadline:g} s", retry=True)

    def _parse(self, body: bytes) -> JWKSet:
        try:
            keys = JWKSet.from_json(body, max_bytes=self._max_bytes, max_keys=self._max_keys)
        except (TokenwardError, ValueError, TypeError) as exc:
            raise _FetchError(f"not a usable JWKS: {exc}", retry=False) from None
        if any(k.key_type == "oct" for k in keys):
            raise _FetchError(
                "the set holds secret (oct) keys; a public JWKS never does", retry=False
            )
        if len(keys) == 0:
            skipped = "; ".join(keys.skipped[:3]) or "the set is empty"
            raise _FetchError(f"no usable key ({skipped})", retry=False)
        return keys


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
