"""One Verifier shared by many threads gives the same answers as a single thread.

The native core is meant to release the GIL while it verifies, so verifications overlap for real;
the tests compare answers only (claims dict or exception class), never timings.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import tokenward as tw

NOW = 1_700_000_000
ISSUER = "https://issuer.example"
AUDIENCE = "api"
THREADS = 8
PER_THREAD = 200

Outcome = tuple[str, Any]  # ("ok", claims) or ("error", exception class)


def claims(sub: str, **changes: Any) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "roles": [sub, "reader"],
    } | changes


def with_kid(key: tw.JWK, kid: str) -> tw.JWK:
    return tw.JWK.from_json(key.to_dict(private=True) | {"kid": kid})


def change_signature(token: str, change: Callable[[bytes], bytes]) -> str:
    """The token with its signature bytes passed through `change`."""
    header, payload, signature = token.split(".")
    raw = change(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    return f"{header}.{payload}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"


def flip_signature(token: str) -> str:
    def flip(raw: bytes) -> bytes:
        flipped = bytearray(raw)
        flipped[len(raw) // 2] ^= 0x40
        return bytes(flipped)

    return change_signature(token, flip)


def outcome(verify: Callable[[Any], dict[str, Any]], token: str | bytes) -> Outcome:
    try:
        return ("ok", verify(token))
    except Exception as exc:  # any exception class is recorded and compared
        return ("error", type(exc))


def run_parallel(
    verify: Callable[[Any], dict[str, Any]],
    tokens: Sequence[str | bytes],
    threads: int = THREADS,
) -> list[list[tuple[int, Outcome]]]:
    """`threads` workers, each PER_THREAD verifications over the tokens from its own offset."""
    barrier = threading.Barrier(threads)

    def worker(worker_id: int) -> list[tuple[int, Outcome]]:
        barrier.wait()
        results = []
        for i in range(PER_THREAD):
            index = (worker_id * 5 + i) % len(tokens)
            results.append((index, outcome(verify, tokens[index])))
        return results

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(worker, range(threads)))


def assert_same_answers_in_parallel(
    verifier: tw.Verifier, cases: Sequence[tuple[str, Outcome]], threads: int = THREADS
) -> None:
    """Verifier.verify gives each case's expected answer, alone and under `threads` threads."""
    tokens = [token for token, _ in cases]

    def verify(token: str) -> dict[str, Any]:
        return verifier.verify(token, now=NOW)

    assert [outcome(verify, token) for token in tokens] == [answer for _, answer in cases]
    per_thread = run_parallel(verify, tokens, threads)
    assert [len(results) for results in per_thread] == [PER_THREAD] * threads
    for results in per_thread:
        for index, answer in results:
            assert answer == cases[index][1], (index, answer, cases[index][1])


# --------------------------------------------------------------------------------------------
# Shared asymmetric verifier: RS256, ES256, EdDSA, and everything that must fail.
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asymmetric_case() -> tuple[tw.Verifier, list[str], list[Outcome]]:
    rs = tw.JWK.generate("RS256")
    es = tw.JWK.generate("ES256")
    ed = tw.JWK.generate("EdDSA")
    outsider = tw.JWK.generate("ES256")  # not in the set: its kid is unknown
    impostor = with_kid(tw.JWK.generate("EdDSA"), ed.kid or "")  # right kid, wrong key
    hs_confusion = with_kid(tw.JWK.generate("HS256"), rs.kid or "")  # alg confusion attempt
    assert None not in (rs.kid, es.kid, ed.kid)

    verifier = tw.Verifier(
        tw.JWKSet([rs.public(), es.public(), ed.public()]),
        algorithms=["RS256", "ES256", "EdDSA"],
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    cases: list[tuple[str, Outcome]] = [
        (tw.encode(claims("rs"), rs), ("ok", claims("rs"))),
        (tw.encode(claims("es"), es), ("ok", claims("es"))),
        (tw.encode(claims("ed"), ed), ("ok", claims("ed"))),
        (tw.encode(claims("rs-exp", exp=NOW - 1), rs), ("error", tw.ExpiredTokenError)),
        (tw.encode(claims("es-exp", exp=NOW - 600), es), ("error", tw.ExpiredTokenError)),
        (flip_signature(tw.encode(claims("es-bad"), es)), ("error", tw.InvalidSignatureError)),
        (flip_signature(tw.encode(claims("rs-bad"), rs)), ("error", tw.InvalidSignatureError)),
        (tw.encode(claims("ed-imp"), impostor), ("error", tw.InvalidSignatureError)),
        (tw.encode(claims("out"), outsider), ("error", tw.KeyNotFoundError)),
        (tw.encode(claims("hs"), hs_confusion), ("error", tw.UnsupportedAlgorithmError)),
        (tw.encode(claims("aud", aud="other"), ed), ("error", tw.InvalidAudienceError)),
        (tw.encode(claims("iss", iss="https://evil"), rs), ("error", tw.InvalidIssuerError)),
        (tw.encode(claims("nbf", nbf=NOW + 600), es), ("error", tw.ImmatureTokenError)),
        ("not.a-token", ("error", tw.MalformedTokenError)),
    ]
    tokens = [token for token, _ in cases]
    expected = [answer for _, answer in cases]
    return verifier, tokens, expected


def test_single_thread_answers_are_the_expected_ones(
    asymmetric_case: tuple[tw.Verifier, list[str], list[Outcome]],
) -> None:
    verifier, tokens, expected = asymmetric_case
    for token, answer in zip(tokens, expected, strict=True):
        assert outcome(lambda t: verifier.verify(t, now=NOW), token) == answer


def test_shared_verifier_many_threads_same_answers(
    asymmetric_case: tuple[tw.Verifier, list[str], list[Outcome]],
) -> None:
    verifier, tokens, expected = asymmetric_case
    assert_same_answers_in_parallel(verifier, list(zip(tokens, expected, strict=True)))


def test_shared_verifier_many_threads_bytes_tokens(
    asymmetric_case: tuple[tw.Verifier, list[str], list[Outcome]],
) -> None:
    verifier, tokens, expected = asymmetric_case
    encoded: list[str | bytes] = [token.encode("ascii") for token in tokens]

    def verify(token: bytes) -> dict[str, Any]:
        return verifier.verify(token, now=NOW)

    per_thread = run_parallel(verify, encoded)
    for results in per_thread:
        for index, answer in results:
            assert answer == expected[index], (index, answer, expected[index])


def test_shared_verifier_verify_signature_many_threads(
    asymmetric_case: tuple[tw.Verifier, list[str], list[Outcome]],
) -> None:
    verifier, tokens, _ = asymmetric_case

    def verify(token: str) -> dict[str, Any]:
        return {"payload": verifier.verify_signature(token)}

    baseline = [outcome(verify, token) for token in tokens]
    per_thread = run_parallel(verify, tokens)
    for results in per_thread:
        for index, answer in results:
            assert answer == baseline[index], (index, answer, baseline[index])


# --------------------------------------------------------------------------------------------
# One asymmetric key hammered with good and bad signatures. A key keeps a few prepared
# verification contexts per algorithm: a good signature returns its context for the next
# verify, a bad one drops it. With more threads than the pool keeps idle per algorithm (8),
# contexts are taken, returned, dropped and turned away at once.
# --------------------------------------------------------------------------------------------

HAMMER_THREADS = 16


def zero_r(token: str) -> str:
    """The ECDSA signature with r = 0 (s kept): refused before OpenSSL sees it."""
    return change_signature(token, lambda raw: bytes(len(raw) // 2) + raw[len(raw) // 2 :])


def truncate_signature(token: str) -> str:
    return change_signature(token, lambda raw: raw[:-1])


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"])
def test_one_key_many_threads_good_and_bad_signatures(algorithm: str) -> None:
    key = tw.JWK.generate(algorithm)
    impostor = tw.JWK.generate(algorithm)  # a single-key verifier tries its own key regardless
    verifier = tw.Verifier(key.public(), algorithms=[algorithm], issuer=ISSUER, audience=AUDIENCE)
    bad = ("error", tw.InvalidSignatureError)
    cases: list[tuple[str, Outcome]] = []
    for n in range(3):
        sub = f"{algorithm}-{n}"
        cases += [
            (tw.encode(claims(sub), key), ("ok", claims(sub))),
            (flip_signature(tw.encode(claims(sub + "-flip"), key)), bad),
            (tw.encode(claims(sub + "-imp"), impostor), bad),
            (truncate_signature(tw.encode(claims(sub + "-short"), key)), bad),
        ]
    if algorithm.startswith("ES"):
        cases.append((zero_r(tw.encode(claims("zero-r"), key)), bad))
    assert_same_answers_in_parallel(verifier, cases, threads=HAMMER_THREADS)


def test_one_rsa_key_many_threads_several_algorithms() -> None:
    # A key without "alg" verifies RS* and PS* alike; each algorithm has its own prepared
    # contexts (padding, digest), which must never serve another algorithm.
    generated = tw.JWK.generate("RS256").to_dict(private=True)
    key = tw.JWK.from_json({name: value for name, value in generated.items() if name != "alg"})
    assert key.algorithm is None
    algorithms = ["RS256", "PS256", "RS512", "PS384"]
    verifier = tw.Verifier(key.public(), algorithms=algorithms, issuer=ISSUER, audience=AUDIENCE)
    cases: list[tuple[str, Outcome]] = []
    for algorithm in algorithms:
        token = tw.encode(claims(algorithm), key, algorithm=algorithm)
        cases += [
            (token, ("ok", claims(algorithm))),
            (flip_signature(token), ("error", tw.InvalidSignatureError)),
        ]
    assert_same_answers_in_parallel(verifier, cases, threads=HAMMER_THREADS)


# --------------------------------------------------------------------------------------------
# Shared HMAC verifier (oct keys cannot share a set with asymmetric keys).
# --------------------------------------------------------------------------------------------


def test_shared_hmac_verifier_many_threads_same_answers() -> None:
    key = tw.JWK.generate("HS256")
    other = with_kid(tw.JWK.generate("HS256"), key.kid or "")
    verifier = tw.Verifier(key, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE)
    cases: list[tuple[str, Outcome]] = [
        (tw.encode(claims("h1"), key), ("ok", claims("h1"))),
        (tw.encode(claims("h2", roles=[]), key), ("ok", claims("h2", roles=[]))),
        (tw.encode(claims("h-exp", exp=NOW - 1), key), ("error", tw.ExpiredTokenError)),
        (flip_signature(tw.encode(claims("h-bad"), key)), ("error", tw.InvalidSignatureError)),
        (tw.encode(claims("h-other"), other), ("error", tw.InvalidSignatureError)),
        (tw.encode(claims("h-aud", aud="x"), key), ("error", tw.InvalidAudienceError)),
    ]
    assert_same_answers_in_parallel(verifier, cases)


# --------------------------------------------------------------------------------------------
# replace_keys while other threads verify.
# --------------------------------------------------------------------------------------------

SWAPS = 400


def swap_while_verifying(
    verifier: tw.Verifier,
    key_sets: Sequence[tw.JWK | tw.JWKSet],
    tokens: Sequence[str],
) -> list[list[tuple[int, Outcome]]]:
    """One thread cycles replace_keys through key_sets SWAPS times while THREADS-1 verify."""
    barrier = threading.Barrier(THREADS)

    def swapper() -> list[tuple[int, Outcome]]:
        barrier.wait()
        for i in range(SWAPS):
            verifier.replace_keys(key_sets[i % len(key_sets)])
        return []

    def worker(worker_id: int) -> list[tuple[int, Outcome]]:
        barrier.wait()
        results = []
        for i in range(PER_THREAD):
            index = (worker_id + i) % len(tokens)
            results.append((index, outcome(lambda t: verifier.verify(t, now=NOW), tokens[index])))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        swap_future = pool.submit(swapper)
        futures = [pool.submit(worker, n) for n in range(THREADS - 1)]
        results = [future.result() for future in futures]
        assert swap_future.result() == []
    return results


def test_replace_keys_rotation_with_distinct_kids() -> None:
    stable = tw.JWK.generate("ES256")  # in every set: its tokens must always verify
    old = tw.JWK.generate("RS256")
    new = tw.JWK.generate("EdDSA")
    old_set = tw.JWKSet([stable.public(), old.public()])
    both_set = tw.JWKSet([stable.public(), old.public(), new.public()])
    new_set = tw.JWKSet([stable.public(), new.public()])
    verifier = tw.Verifier(
        old_set, algorithms=["ES256", "RS256", "EdDSA"], issuer=ISSUER, audience=AUDIENCE
    )
    tokens = [
        tw.encode(claims("stable"), stable),
        tw.encode(claims("old"), old),
        tw.encode(claims("new"), new),
    ]
    allowed: list[list[Outcome]] = [
        [("ok", claims("stable"))],
        [("ok", claims("old")), ("error", tw.KeyNotFoundError)],
        [("ok", claims("new")), ("error", tw.KeyNotFoundError)],
    ]

    results = swap_while_verifying(verifier, [old_set, both_set, new_set], tokens)
    assert len(results) == THREADS - 1
    for worker_results in results:
        assert len(worker_results) == PER_THREAD
        for index, answer in worker_results:
            assert answer in allowed[index], (index, answer)

    # After SWAPS (400 = 3 * 133 + 1) swaps the last set installed is key_sets[399 % 3] = old_set.
    assert sorted(k.kid or "" for k in verifier.keys) == sorted([stable.kid or "", old.kid or ""])
    assert verifier.verify(tokens[1], now=NOW) == claims("old")
    with pytest.raises(tw.KeyNotFoundError):
        verifier.verify(tokens[2], now=NOW)


def test_replace_keys_rotation_with_the_same_kid() -> None:
    stable = with_kid(tw.JWK.generate("ES256"), "stable")
    old = with_kid(tw.JWK.generate("ES256"), "current")
    new = with_kid(tw.JWK.generate("ES256"), "current")
    old_set = tw.JWKSet([stable.public(), old.public()])
    new_set = tw.JWKSet([new.public(), stable.public()])
    verifier = tw.Verifier(old_set, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE)
    tokens = [
        tw.encode(claims("stable"), stable),
        tw.encode(claims("old"), old),
        tw.encode(claims("new"), new),
    ]
    allowed: list[list[Outcome]] = [
        [("ok", claims("stable"))],
        [("ok", claims("old")), ("error", tw.InvalidSignatureError)],
        [("ok", claims("new")), ("error", tw.InvalidSignatureError)],
    ]
    results = swap_while_verifying(verifier, [new_set, old_set], tokens)
    for worker_results in results:
        assert len(worker_results) == PER_THREAD
        for index, answer in worker_results:
            assert answer in allowed[index], (index, answer)

    # 400 swaps alternating new, old: the last one (i = 399) installed old_set.
    assert verifier.verify(tokens[1], now=NOW) == claims("old")
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify(tokens[2], now=NOW)
    verifier.replace_keys(new_set)
    assert verifier.verify(tokens[2], now=NOW) == claims("new")
    assert verifier.verify(tokens[0], now=NOW) == claims("stable")


def test_replace_keys_single_keys_while_verifying() -> None:
    # A verifier built on a single JWK (kid not matched) swapped between two single keys.
    first = tw.JWK.generate("EdDSA")
    second = tw.JWK.generate("EdDSA")
    verifier = tw.Verifier(first.public(), algorithms=["EdDSA"], issuer=ISSUER, audience=AUDIENCE)
    tokens = [
        tw.encode(claims("first"), first),
        tw.encode(claims("second"), second),
        tw.encode(claims("first-2", roles=["x"]), first),
    ]
    allowed: list[list[Outcome]] = [
        [("ok", claims("first")), ("error", tw.InvalidSignatureError)],
        [("ok", claims("second")), ("error", tw.InvalidSignatureError)],
        [("ok", claims("first-2", roles=["x"])), ("error", tw.InvalidSignatureError)],
    ]
    results = swap_while_verifying(verifier, [second.public(), first.public()], tokens)
    for worker_results in results:
        assert len(worker_results) == PER_THREAD
        for index, answer in worker_results:
            assert answer in allowed[index], (index, answer)

    # The last of the 400 alternating swaps (i = 399) installed `first`.
    assert verifier.verify(tokens[0], now=NOW) == claims("first")
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify(tokens[1], now=NOW)
