"""Argon2id password hashes in the C++ core (libsodium): known answers, interoperability with
argon2-cffi and pwdlib both ways, rehash decisions, strict parsing of stored hashes, bounds,
NFKC normalisation, and the GIL released while hashing."""

from __future__ import annotations

import base64
import binascii
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import argon2
import pytest
from argon2.low_level import Type, hash_secret
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pwdlib.hashers.argon2 import Argon2Hasher

import tokenward as tw
from tokenward import _core
from tokenward.passwords import (
    DEFAULT_MEMLIMIT,
    DEFAULT_OPSLIMIT,
    MAX_PASSWORD_BYTES,
    MEMLIMIT_INTERACTIVE,
    OPSLIMIT_INTERACTIVE,
    PasswordHasher,
    normalize_password,
)

# The cheapest parameters a hasher accepts (OWASP's floor: 19 MiB, 2 passes), to keep tests fast.
CHEAP = {"opslimit": 2, "memlimit": 19 << 20}

# Known answers, made with argon2-cffi's low-level API (the reference C implementation) from a
# fixed salt, so they pin the exact bytes and not only "whatever we wrote, we read".
KNOWN_CFFI = (
    "correct horse battery staple",
    "$argon2id$v=19$m=19456,t=2,p=1$dG9rZW53YXJkLXNhbHQxNg$4UUslYXmlPVoyNKwjZEKvJFZnzukXSVv7oFWSdoNJqQ",
)
# argon2-cffi's default shape (t=3, 64 MiB, four lanes), over a non-ASCII password.
KNOWN_CFFI_P4 = (
    "pässwörd",
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$PxMN34E/tTpwUb2QnCj7nfiNqcmOvE436yaK4hpDhME",
)
# Written by pwdlib's Argon2Hasher (what fastapi-users stores), two lanes.
KNOWN_PWDLIB = (
    "fastapi-users password",
    "$argon2id$v=19$m=19456,t=2,p=2$G+Qxra8/CujPLymwqumAbg$/cl11aIJzK1btSI1VDrRLv2kKunnaMrPwtHod4F9b1E",
)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(**CHEAP)


def test_the_default_is_libsodium_interactive() -> None:
    assert (DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT) == (OPSLIMIT_INTERACTIVE, MEMLIMIT_INTERACTIVE)
    h = PasswordHasher()
    assert (h.opslimit, h.memlimit) == (2, 64 << 20)
    assert h.hash("x" * 8).startswith("$argon2id$v=19$m=65536,t=2,p=1$")


def test_hash_is_a_phc_string_with_a_fresh_salt(hasher: PasswordHasher) -> None:
    a, b = hasher.hash("hunter2!!"), hasher.hash("hunter2!!")
    assert a != b
    for phc in (a, b):
        prefix, salt, digest = phc.rsplit("$", 2)
        assert prefix == "$argon2id$v=19$m=19456,t=2,p=1"
        assert len(salt) == 22 and len(digest) == 43  # 16 and 32 bytes, unpadded base64
    assert hasher.verify(a, "hunter2!!") and hasher.verify(b, "hunter2!!")
    assert not hasher.verify(a, "hunter2!")
    assert not hasher.verify(a, "")


@pytest.mark.parametrize("known", [KNOWN_CFFI, KNOWN_CFFI_P4, KNOWN_PWDLIB])
def test_known_answers_from_argon2_cffi_and_pwdlib_verify(
    hasher: PasswordHasher, known: tuple[str, str]
) -> None:
    password, phc = known
    assert hasher.verify(phc, password)
    assert not hasher.verify(phc, password + "x")
    assert not hasher.verify(phc, password.upper())


def test_the_known_answer_is_what_the_reference_implementation_computes() -> None:
    password, phc = KNOWN_CFFI
    again = hash_secret(
        password.encode(),
        b"tokenward-salt16",
        time_cost=2,
        memory_cost=19456,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
    )
    assert again.decode() == phc


def test_our_hashes_verify_with_argon2_cffi_and_pwdlib(hasher: PasswordHasher) -> None:
    for password in ("s3cret-enough", "pässwörd ✓ 密码", "x" * 200):
        phc = hasher.hash(password)
        assert argon2.PasswordHasher().verify(phc, password)
        with pytest.raises(argon2.exceptions.VerifyMismatchError):
            argon2.PasswordHasher().verify(phc, password + "!")
        assert Argon2Hasher().verify(password, phc)
        assert not Argon2Hasher().verify(password + "!", phc)


def test_their_fresh_hashes_verify_with_ours(hasher: PasswordHasher) -> None:
    cffi = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=3)
    pwd = Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1)
    for password in ("imported-from-fastapi-users", "Ünïcödé only"):
        for phc in (cffi.hash(password), pwd.hash(password)):
            assert hasher.verify(phc, password)
            assert not hasher.verify(phc, password[:-1])


def test_needs_rehash_when_parameters_change(hasher: PasswordHasher) -> None:
    phc = hasher.hash("rehash me please")
    assert not hasher.needs_rehash(phc)
    assert PasswordHasher(opslimit=3, memlimit=19 << 20).needs_rehash(phc)
    assert PasswordHasher(opslimit=2, memlimit=20 << 20).needs_rehash(phc)
    # argon2-cffi/pwdlib defaults (t=3, p=4) always need a rehash to ours; so do other lanes,
    # salt and hash lengths at otherwise equal parameters.
    assert hasher.needs_rehash(KNOWN_CFFI_P4[1])
    assert hasher.needs_rehash(KNOWN_PWDLIB[1])
    assert not hasher.needs_rehash(KNOWN_CFFI[1])
    long_hash = hash_secret(
        b"pw", b"0123456789abcdef", time_cost=2, memory_cost=19456, parallelism=1, hash_len=48,
        type=Type.ID,
    ).decode()  # fmt: skip
    short_salt = hash_secret(
        b"pw", b"8bytes!!", time_cost=2, memory_cost=19456, parallelism=1, hash_len=32,
        type=Type.ID,
    ).decode()  # fmt: skip
    assert hasher.verify(long_hash, "pw") and hasher.needs_rehash(long_hash)
    assert hasher.verify(short_salt, "pw") and hasher.needs_rehash(short_salt)


def test_verify_and_update_rehashes_old_parameters(hasher: PasswordHasher) -> None:
    password, old = KNOWN_PWDLIB
    assert hasher.verify_and_update(old, password + "?") == (False, None)
    ok, new = hasher.verify_and_update(old, password)
    assert ok and new is not None and new.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify(new, password)
    assert hasher.verify_and_update(new, password) == (True, None)


MALFORMED = [
    "",
    "not a hash",
    "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
    "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2d$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$t=2,m=65536,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1,keyid=aaaa$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj-qf_YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHR$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",  # 5 B
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZw",  # 15-byte hash
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
    "$argon2id$v=19$m=65536,t=2,p=0$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=17$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=33,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=4,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=4194305,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA\n",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA$x",
    KNOWN_CFFI[1].replace("$argon2id$", "$ARGON2ID$"),
    KNOWN_CFFI[1] + "A" * 100,  # past libsodium's 128-byte buffer
    "$argon2id$v=19$m=19456,t=2,p=1$dG9rZW53YXJkLXNhbHQxNg$4UUslYXmlPVoyNKwjZEKvJFZnzukXSVv7oFWSdoNJqQ\x00",
    "$argon2id$v=19$m=19456,t=2,p=1$dG9rZW53YXJkLXNhbHQxNg$4UUslYXmlPVoyNKwjZEKvJFZnzukXSVv7oFWSdoNJqé",
]


@pytest.mark.parametrize("phc", MALFORMED)
def test_malformed_hashes_are_a_typed_error_not_a_mismatch(
    hasher: PasswordHasher, phc: str
) -> None:
    with pytest.raises(tw.PasswordHashError):
        hasher.verify(phc, "password")
    with pytest.raises(tw.PasswordHashError):
        hasher.needs_rehash(phc)
    with pytest.raises(tw.PasswordHashError):
        hasher.verify_and_update(phc, "password")


def test_password_hash_error_is_not_a_token_error() -> None:
    assert not issubclass(tw.PasswordHashError, tw.InvalidTokenError)
    assert issubclass(tw.WeakPasswordError, ValueError)


def test_a_hash_that_is_not_str_is_a_type_error(hasher: PasswordHasher) -> None:
    with pytest.raises(TypeError):
        hasher.verify(KNOWN_CFFI[1].encode(), "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hasher.hash(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [
        (1, 64 << 20),  # one pass
        (33, 64 << 20),
        (2, (19 << 20) - 1024),  # below 19 MiB
        (2, (4 << 30) + 1024),
        (2, (64 << 20) + 1),  # not a whole KiB
        (0, 0),
        (-1, 64 << 20),
        (2, -5),
        (2**64, 64 << 20),
        (2, 2**64),
    ],
)
def test_parameters_out_of_bounds_are_refused(opslimit: int, memlimit: int) -> None:
    with pytest.raises(tw.ConfigurationError):
        PasswordHasher(opslimit=opslimit, memlimit=memlimit)


def test_parameter_types_are_checked() -> None:
    with pytest.raises(tw.ConfigurationError):
        PasswordHasher(opslimit=True)
    with pytest.raises(tw.ConfigurationError):
        PasswordHasher(memlimit=64.0 * 2**20)  # type: ignore[arg-type]


def test_password_length_is_bounded(hasher: PasswordHasher) -> None:
    assert MAX_PASSWORD_BYTES == 1024
    at_limit = "a" * MAX_PASSWORD_BYTES
    phc = hasher.hash(at_limit)
    assert hasher.verify(phc, at_limit)
    with pytest.raises(tw.WeakPasswordError) as info:
        hasher.hash(at_limit + "a")
    assert info.value.rules == ("too_long",)
    with pytest.raises(tw.WeakPasswordError):
        hasher.hash("é" * 513)  # 1026 bytes of UTF-8
    # Too long to be any stored password: no match, no error.
    assert not hasher.verify(phc, at_limit + "a")
    assert hasher.verify_dummy(at_limit * 2) is False
    # The native layer refuses too, whatever the wrapper does.
    with pytest.raises(tw.WeakPasswordError):
        _core.Argon2id(**CHEAP).hash(b"a" * (MAX_PASSWORD_BYTES + 1))


def test_non_ascii_passwords_are_nfkc_normalised(hasher: PasswordHasher) -> None:
    composed, decomposed = (
        "caf\u00e9 \uff11\uff12\uff13",
        "cafe\u0301 123",
    )  # composed é + fullwidth digits vs e + combining accent
    assert normalize_password(composed) == normalize_password(decomposed) == "café 123"
    phc = hasher.hash(composed)
    assert hasher.verify(phc, decomposed)
    assert hasher.verify(phc, "café 123")
    # What was hashed is the NFKC form's UTF-8: other libraries see that form.
    assert argon2.PasswordHasher().verify(phc, "café 123")
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(phc, decomposed)


def test_imported_unnormalised_hashes_verify_and_are_rehashed(hasher: PasswordHasher) -> None:
    typed = "cafe\u0301-\uff11\uff12\uff13"  # not in NFKC form
    assert unicodedata.normalize("NFKC", typed) != typed
    imported = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(typed)
    assert hasher.verify(imported, typed)
    ok, new = hasher.verify_and_update(imported, typed)
    assert ok and new is not None
    assert hasher.verify_and_update(new, typed) == (True, None)
    assert hasher.verify(new, unicodedata.normalize("NFKC", typed))
    strict = PasswordHasher(**CHEAP, accept_unnormalized=False)
    assert not strict.verify(imported, typed)
    assert strict.verify(new, typed)


def test_a_lone_surrogate_matches_nothing(hasher: PasswordHasher) -> None:
    phc = hasher.hash("ordinary password")
    assert not hasher.verify(phc, "\ud800abc")
    assert hasher.verify_dummy("\ud800") is False
    with pytest.raises(tw.WeakPasswordError) as info:
        hasher.hash("\ud800 password")
    assert info.value.rules == ("invalid_characters",)


def test_verify_dummy_never_matches(hasher: PasswordHasher) -> None:
    for password in ("", "password", "x" * 100):
        assert hasher.verify_dummy(password) is False
    assert repr(hasher) == "<PasswordHasher opslimit=2 memlimit=19922944>"


def test_a_concurrent_burst_of_hashes_and_verifications_is_correct(
    hasher: PasswordHasher,
) -> None:
    passwords = [f"password number {i}" for i in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        hashes = list(pool.map(hasher.hash, passwords))
        good = list(pool.map(hasher.verify, hashes, passwords))
        bad = list(pool.map(hasher.verify, hashes, reversed(passwords)))
    assert all(good)
    assert not any(bad)
    assert len(set(hashes)) == len(hashes)


# --- the GIL ------------------------------------------------------------------------------------


@pytest.fixture
def no_forced_switches() -> Iterator[None]:
    """A switch interval of 100 s: within a test the interpreter never takes the GIL from a
    thread by force, so another thread runs only while this one has released it (a blocking
    call, or a C call that releases it)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _steps_of_another_thread_during(call: Callable[[], object]) -> int:
    """How many steps a second Python thread, released just before ``call()``, has made when
    ``call()`` returns. It can make any only while ``call()`` has released the GIL: before the
    call this thread keeps the GIL (nothing forces a switch), and after the call it reads the
    count before anything else. The other thread finishes its steps once it has the GIL, so
    this thread gets the GIL back after them."""
    count = 0
    go = threading.Event()

    def spin() -> None:
        nonlocal count
        go.wait()
        for _ in range(100_000):
            count += 1

    t = threading.Thread(target=spin)
    t.start()  # spin() now waits for go, without the GIL
    go.set()
    call()
    seen = count
    t.join()
    return seen


def _released(call: Callable[[], object], attempts: int = 3) -> bool:
    """Whether the other thread got to run during one of a few calls (the OS may not schedule it
    within a single short call on a busy machine; with the GIL held it never can)."""
    return any(_steps_of_another_thread_during(call) > 0 for _ in range(attempts))


def test_the_gil_is_released_while_hashing_and_verifying(
    hasher: PasswordHasher, no_forced_switches: None
) -> None:
    phc = hasher.hash("gil test password")
    # A C call that keeps the GIL lets the other thread make no step at all...
    for _ in range(3):
        assert _steps_of_another_thread_during(lambda: sum(range(3_000_000))) == 0
    # ...hashing, verifying and the dummy verification let it run.
    assert _released(lambda: hasher.hash("gil test password"))
    assert _released(lambda: hasher.verify(phc, "gil test password"))
    assert _released(lambda: hasher.verify_dummy("gil test"))


# --- the stored-hash grammar against a model ------------------------------------------------------

_PHC = re.compile(
    r"\$argon2id\$v=19\$m=(0|[1-9][0-9]{0,9}),t=(0|[1-9][0-9]{0,9}),p=(0|[1-9][0-9]{0,9})"
    r"\$([A-Za-z0-9+/]*)\$([A-Za-z0-9+/]*)"
)


def _b64_bytes(text: str) -> int | None:
    """Bytes of canonical unpadded standard base64, or None."""
    if len(text) % 4 == 1:
        return None
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        return None
    return len(raw) if base64.b64encode(raw).decode().rstrip("=") == text else None


def model_accepts(phc: str) -> bool:
    """The grammar and bounds of docs/accounts.md, written independently of the C++ parser."""
    match = _PHC.fullmatch(phc)
    if match is None or len(phc) > 127:
        return False
    m, t, p = (int(g) for g in match.group(1, 2, 3))
    salt, digest = _b64_bytes(match.group(4)), _b64_bytes(match.group(5))
    return (
        salt is not None
        and 8 <= salt <= 64
        and digest is not None
        and 16 <= digest <= 64
        and 1 <= p <= 16
        and 1 <= t <= 32
        and 8 * p <= m <= 4 * 1024 * 1024
    )


_PIECES = st.sampled_from(
    ["$", "=", ",", "0", "1", "9", "16", "17", "32", "33", "m", "t", "p", "v", "+", "/", "A", "Q",
     "a", "z", "_", "-", "==", "AAAA", "argon2id", "argon2i", "19", "4194304", "4194305"]
)  # fmt: skip


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([KNOWN_CFFI[1], KNOWN_CFFI_P4[1], KNOWN_PWDLIB[1]]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3))
        text = text[:at] + draw(st.one_of(st.just(""), _PIECES)) + text[at + cut :]
    return text


@st.composite
def _structured(draw: st.DrawFn) -> str:
    num = st.one_of(st.integers(0, 40), st.integers(0, 5_000_000), st.sampled_from(["01", "007"]))
    m, t, p = draw(num), draw(num), draw(num)
    salt = base64.b64encode(draw(st.binary(min_size=0, max_size=70))).decode().rstrip("=")
    digest = base64.b64encode(draw(st.binary(min_size=0, max_size=70))).decode().rstrip("=")
    return f"$argon2id$v=19$m={m},t={t},p={p}${salt}${digest}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_mutated(), _structured()))
def test_the_parser_accepts_exactly_the_documented_grammar(phc: str) -> None:
    """needs_rehash parses (ours, then libsodium's) without hashing: it raises PasswordHashError
    exactly when the model refuses the string, and libsodium reads every string we accept."""
    hasher = _core.Argon2id(**CHEAP)
    try:
        hasher.needs_rehash(phc)
        accepted = True
    except tw.PasswordHashError as exc:
        assert "libsodium could not read it" not in str(exc), phc
        accepted = False
    assert accepted == model_accepts(phc), phc
