"""Second factors without a framework (tokenward.mfa): TOTP replay refusal over the in-process
step store, recovery codes (cpp/src/recovery_codes.cpp through the binding) and their service."""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections.abc import Callable

import pytest

from tokenward import (
    ConfigurationError,
    InvalidKeyError,
    MalformedTokenError,
    RecoveryCodeHasher,
    TotpVerifier,
    hotp_code,
    totp_code,
    totp_secret,
)
from tokenward.mfa import MemoryRecoveryCodes, MemoryTotpSteps, RecoveryCodes

SECRET = b"12345678901234567890"
HASH_SECRET = b"h" * 32
NOW = 1_700_000_000


def _burst(n: int, work: Callable[[], object]) -> list[object]:
    """Runs ``work`` in ``n`` threads released at once; their results in thread order."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- TOTP replay refusal -------------------------------------------------------------------------


def test_a_code_is_accepted_once() -> None:
    verifier = TotpVerifier(MemoryTotpSteps(), clock=lambda: NOW)
    code = totp_code(SECRET, NOW)

    async def scenario() -> None:
        assert await verifier.verify("ada", SECRET, code) == NOW // 30
        assert await verifier.verify("ada", SECRET, code) is None
        # Still refused later within the window (the code stays valid for the HMAC).
        assert await verifier.verify("ada", SECRET, code, at=NOW + 30) is None
        # Another user's state is separate.
        assert await verifier.verify("bob", SECRET, code) == NOW // 30

    asyncio.run(scenario())


def test_an_older_code_is_refused_after_a_newer_one() -> None:
    verifier = TotpVerifier(MemoryTotpSteps())
    step = NOW // 30
    older, newer = hotp_code(SECRET, step - 1), hotp_code(SECRET, step)

    async def scenario() -> None:
        assert await verifier.verify("ada", SECRET, newer, at=NOW) == step
        assert await verifier.verify("ada", SECRET, older, at=NOW) is None
        # The next step's code is fine.
        assert await verifier.verify("ada", SECRET, hotp_code(SECRET, step + 1), at=NOW) == step + 1

    asyncio.run(scenario())


def test_wrong_and_malformed_codes_leave_no_trace() -> None:
    steps = MemoryTotpSteps()
    verifier = TotpVerifier(steps)
    code = totp_code(SECRET, NOW)

    async def scenario() -> None:
        assert (
            await verifier.verify("ada", SECRET, "000000" if code != "000000" else "1", at=NOW)
            is None
        )
        assert await verifier.verify("ada", SECRET, "abc", at=NOW) is None
        assert await verifier.verify("ada", SECRET, code, at=NOW) == NOW // 30

    asyncio.run(scenario())


def test_forget_lets_a_new_secret_start_afresh() -> None:
    steps = MemoryTotpSteps()
    verifier = TotpVerifier(steps)
    code = totp_code(SECRET, NOW)

    async def scenario() -> None:
        assert await verifier.verify("ada", SECRET, code, at=NOW) is not None
        steps.forget("ada")
        assert await verifier.verify("ada", SECRET, code, at=NOW) is not None

    asyncio.run(scenario())


def test_a_replay_burst_across_threads_is_accepted_exactly_once() -> None:
    """32 threads, each with its own event loop, present the same code at the same moment."""
    for round_ in range(5):
        verifier = TotpVerifier(MemoryTotpSteps())
        at = NOW + 30 * round_
        code = totp_code(SECRET, at)

        def work(v: TotpVerifier = verifier, c: str = code, t: int = at) -> object:
            return asyncio.run(v.verify("ada", SECRET, c, at=t))

        results = _burst(32, work)
        assert results.count(at // 30) == 1
        assert results.count(None) == 31


def test_a_burst_of_window_codes_accepts_only_increasing_steps() -> None:
    """Threads present the codes of the three steps of the window at once: whichever order the
    lock admits them in, no step is accepted twice or after a later one."""
    steps = MemoryTotpSteps()
    verifier = TotpVerifier(steps)
    step = NOW // 30
    codes = [hotp_code(SECRET, step + d) for d in (-1, 0, 1)] * 10
    random.Random(1).shuffle(codes)
    index = iter(range(len(codes)))
    lock = threading.Lock()

    def work() -> object:
        with lock:
            code = codes[next(index)]
        return asyncio.run(verifier.verify("ada", SECRET, code, at=NOW))

    accepted = [r for r in _burst(len(codes), work) if r is not None]
    # Each step at most once, and the latest step always (nothing later can shut it out).
    assert len(set(accepted)) == len(accepted) <= 3
    assert step + 1 in accepted


def test_a_replay_burst_on_one_event_loop_is_accepted_exactly_once() -> None:
    verifier = TotpVerifier(MemoryTotpSteps())
    code = totp_code(SECRET, NOW)

    async def scenario() -> list[int | None]:
        return await asyncio.gather(
            *(verifier.verify("ada", SECRET, code, at=NOW) for _ in range(50))
        )

    results = asyncio.run(scenario())
    assert results.count(NOW // 30) == 1
    assert results.count(None) == 49


def test_the_verifier_uses_its_clock_and_parameters() -> None:
    secret = totp_secret(32)
    verifier = TotpVerifier(
        MemoryTotpSteps(), digits=8, period=60, algorithm="SHA256", clock=lambda: NOW + 0.9
    )
    code = totp_code(secret, NOW, digits=8, period=60, algorithm="SHA256")
    assert asyncio.run(verifier.verify("ada", secret, code)) == NOW // 60


@pytest.mark.parametrize(
    "kwargs",
    [{"digits": 9}, {"period": 0}, {"algorithm": "MD5"}, {"window": -1}, {"window": 11}],
)
def test_the_verifier_checks_its_parameters_up_front(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        TotpVerifier(MemoryTotpSteps(), **kwargs)  # type: ignore[arg-type]


# --- recovery codes: the native hasher ------------------------------------------------------------

CODE_SHAPE = re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$")


def test_new_recovery_codes_have_the_display_shape_and_differ() -> None:
    codes = RecoveryCodeHasher.new_codes()
    assert len(codes) == 10
    assert all(CODE_SHAPE.match(c) for c in codes), codes
    many = RecoveryCodeHasher.new_codes(100)
    assert len(set(many)) == 100
    for count in (0, 101, -1):
        with pytest.raises(ConfigurationError):
            RecoveryCodeHasher.new_codes(count)


def test_recovery_codes_are_normalised() -> None:
    hasher = RecoveryCodeHasher(HASH_SECRET)
    code = "ABCD-EFGH-2345-67XY"
    expected = hasher.hash(code)
    for typed in (
        "abcd-efgh-2345-67xy",
        "ABCDEFGH234567XY",
        "abcd efgh 2345 67xy",
        " ABCD--EFGH 2345-67XY ",
        "AbCd-EfGh-2345-67xY",
    ):
        assert RecoveryCodeHasher.normalize(typed) == "ABCDEFGH234567XY"
        assert hasher.hash(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "ABCD-EFGH-2345-67X",  # 15 characters
        "ABCD-EFGH-2345-67XYZ",  # 17
        "ABCD-EFGH-2345-67X0",  # 0 is not base32
        "ABCD-EFGH-2345-67X1",
        "ABCD_EFGH_2345_67XY",
        "ABCD\tEFGH-2345-67XY",
        "ABCD-EFGH-2345-67X\u00dd",
        "ABCD-EFGH-2345-67XY\0",
        "-" * 100 + "ABCDEFGH234567XY",  # too long before normalising
    ],
)
def test_malformed_recovery_codes_are_refused(typed: str) -> None:
    hasher = RecoveryCodeHasher(HASH_SECRET)
    assert RecoveryCodeHasher.normalize(typed) is None
    with pytest.raises(MalformedTokenError):
        hasher.hash(typed)
    assert hasher.find(typed, [hasher.hash("ABCD-EFGH-2345-67XY")]) is None


def test_recovery_code_hashes_are_keyed() -> None:
    code = RecoveryCodeHasher.new_codes(1)[0]
    one = RecoveryCodeHasher(HASH_SECRET).hash(code)
    assert re.fullmatch(r"[0-9a-f]{64}", one)
    assert RecoveryCodeHasher(b"g" * 32).hash(code) != one
    with pytest.raises(InvalidKeyError):
        RecoveryCodeHasher(b"h" * 31)


def test_find_returns_the_index_of_the_matching_hash() -> None:
    hasher = RecoveryCodeHasher(HASH_SECRET)
    codes = RecoveryCodeHasher.new_codes()
    hashes = [hasher.hash(c) for c in codes]
    for i, code in enumerate(codes):
        assert hasher.find(code, hashes) == i
        assert hasher.find(code.lower().replace("-", " "), hashes) == i
    other = RecoveryCodeHasher.new_codes(1)[0]
    assert hasher.find(other, hashes) is None
    assert hasher.find(codes[0], []) is None
    # Malformed stored hashes never match and do not stop the search.
    junk = ["", "zz" * 32, hashes[3].upper(), hashes[3][:-1], "\u00e9" * 64]
    assert hasher.find(codes[3], [*junk, hashes[3]]) == len(junk)
    with pytest.raises(TypeError):
        hasher.find(codes[3], hashes[3])  # type: ignore[arg-type]


# --- recovery codes: the service ------------------------------------------------------------------


def test_each_recovery_code_works_once() -> None:
    store = MemoryRecoveryCodes()
    service = RecoveryCodes(store, HASH_SECRET)
    codes, hashes = service.new_codes()
    assert len(codes) == 10 and len(hashes) == 10
    assert not set(codes) & set(hashes)
    store.replace("ada", hashes)

    async def scenario() -> None:
        assert await service.use("ada", codes[4].lower())
        assert not await service.use("ada", codes[4])
        assert not await service.use("bob", codes[5])
        assert not await service.use("ada", "not a code")
        assert len(await store.recovery_code_hashes("ada")) == 9
        # A new set voids the old one.
        new_codes, new_hashes = service.new_codes()
        store.replace("ada", new_hashes)
        assert not await service.use("ada", codes[5])
        assert await service.use("ada", new_codes[5])

    asyncio.run(scenario())


def test_a_recovery_code_burst_across_threads_succeeds_once() -> None:
    store = MemoryRecoveryCodes()
    service = RecoveryCodes(store, HASH_SECRET)
    codes, hashes = service.new_codes()
    store.replace("ada", hashes)
    results = _burst(24, lambda: asyncio.run(service.use("ada", codes[0])))
    assert results.count(True) == 1
    assert results.count(False) == 23


def test_the_recovery_code_service_checks_its_parameters() -> None:
    with pytest.raises(InvalidKeyError):
        RecoveryCodes(MemoryRecoveryCodes(), b"short")
    with pytest.raises(ConfigurationError):
        RecoveryCodes(MemoryRecoveryCodes(), HASH_SECRET, count=0)
