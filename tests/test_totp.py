"""One-time passwords (cpp/src/totp.cpp through the binding): the RFC known answers, interop with
pyotp, the verification window, bounds and malformed input, base32 and the Key URI."""

from __future__ import annotations

import base64
import hashlib
import random
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

import tokenward
from tokenward import (
    ConfigurationError,
    InvalidKeyError,
    base32_decode,
    base32_encode,
    hotp_code,
    otpauth_uri,
    totp_code,
    totp_secret,
    totp_verify,
)
from tokenward._core import _hotp_truncate

# RFC 6238 Appendix B with the seeds of its errata (ID 2866): one seed per hash, as long as the
# hash's output (20, 32 and 64 bytes); the appendix's table assumes them.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238_APPENDIX_B = [
    (59, "94287082", "SHA1"),
    (59, "46119246", "SHA256"),
    (59, "90693936", "SHA512"),
    (1111111109, "07081804", "SHA1"),
    (1111111109, "68084774", "SHA256"),
    (1111111109, "25091201", "SHA512"),
    (1111111111, "14050471", "SHA1"),
    (1111111111, "67062674", "SHA256"),
    (1111111111, "99943326", "SHA512"),
    (1234567890, "89005924", "SHA1"),
    (1234567890, "91819424", "SHA256"),
    (1234567890, "93441116", "SHA512"),
    (2000000000, "69279037", "SHA1"),
    (2000000000, "90698825", "SHA256"),
    (2000000000, "38618901", "SHA512"),
    (20000000000, "65353130", "SHA1"),
    (20000000000, "77737706", "SHA256"),
    (20000000000, "47863826", "SHA512"),
]
# RFC 4226 Appendix D: counter, the 31-bit dynamic truncation (hex and decimal), the code.
RFC4226_SECRET = b"12345678901234567890"
RFC4226_APPENDIX_D = [
    (0, 0x4C93CF18, 1284755224, "755224"),
    (1, 0x41397EEA, 1094287082, "287082"),
    (2, 0x082FEF30, 137359152, "359152"),
    (3, 0x66EF7655, 1726969429, "969429"),
    (4, 0x61C5938A, 1640338314, "338314"),
    (5, 0x33C083D4, 868254676, "254676"),
    (6, 0x7256C032, 1918287922, "287922"),
    (7, 0x04E5B397, 82162583, "162583"),
    (8, 0x2823443F, 673399871, "399871"),
    (9, 0x2679DC69, 645520489, "520489"),
]
ALGORITHMS = ("SHA1", "SHA256", "SHA512")
PYOTP_DIGEST = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def test_the_public_contract_is_exported() -> None:
    for name in ("totp_code", "hotp_code", "totp_verify", "totp_secret", "otpauth_uri"):
        assert name in tokenward.__all__


@pytest.mark.parametrize(("at", "code", "algorithm"), RFC6238_APPENDIX_B)
def test_rfc6238_appendix_b(at: int, code: str, algorithm: str) -> None:
    secret = SEEDS[algorithm]
    assert totp_code(secret, at, digits=8, algorithm=algorithm) == code
    assert totp_verify(secret, code, at, digits=8, algorithm=algorithm) == at // 30


@pytest.mark.parametrize(("counter", "hex_value", "decimal", "code"), RFC4226_APPENDIX_D)
def test_rfc4226_appendix_d(counter: int, hex_value: int, decimal: int, code: str) -> None:
    assert hex_value == decimal
    assert _hotp_truncate(RFC4226_SECRET, counter) == decimal
    assert hotp_code(RFC4226_SECRET, counter) == code
    # TOTP is HOTP of the time step.
    assert totp_code(RFC4226_SECRET, counter * 30 + 29) == code


def test_the_defaults_are_six_digits_thirty_seconds_sha1() -> None:
    assert totp_code(SEEDS["SHA1"], 59) == "287082"
    assert totp_code(SEEDS["SHA1"], 59) == totp_code(
        SEEDS["SHA1"], 59, digits=6, period=30, algorithm="SHA1"
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("digits", [6, 7, 8])
def test_codes_equal_pyotp_for_random_secrets_and_times(algorithm: str, digits: int) -> None:
    rng = random.Random(f"{algorithm}-{digits}")
    for _ in range(60):
        secret = rng.randbytes(rng.randint(16, 64))
        at = rng.randrange(0, 2**34)
        period = rng.choice([1, 15, 30, 60, 120])  # pyotp refuses periods over 120 s
        theirs = pyotp.TOTP(
            base64.b32encode(secret).decode(),
            digits=digits,
            digest=PYOTP_DIGEST[algorithm],
            interval=period,
        )
        assert totp_code(secret, at, digits=digits, period=period, algorithm=algorithm) == (
            theirs.at(at)
        )
        counter = rng.randrange(0, 2**64)
        hotp = pyotp.HOTP(
            base64.b32encode(secret).decode(), digits=digits, digest=PYOTP_DIGEST[algorithm]
        )
        assert hotp_code(secret, counter, digits=digits, algorithm=algorithm) == hotp.at(counter)


def test_pyotp_accepts_our_codes_and_we_accept_pyotps() -> None:
    secret = totp_secret()
    theirs = pyotp.TOTP(base32_encode(secret))
    for at in (0, 29, 30, 1_700_000_000, 1_700_000_015):
        assert theirs.verify(totp_code(secret, at), for_time=at)
        assert totp_verify(secret, theirs.at(at), at) == at // 30


def test_the_window_is_one_step_either_side() -> None:
    secret = SEEDS["SHA1"]
    step = 1_000_000
    code = hotp_code(secret, step)
    start = step * 30
    # Accepted from the first second of the step before to the last second of the step after.
    assert totp_verify(secret, code, start - 30) == step
    assert totp_verify(secret, code, start - 31) is None
    assert totp_verify(secret, code, start + 59) == step
    assert totp_verify(secret, code, start + 60) is None
    # window=0: only its own step; a wider window reaches further.
    assert totp_verify(secret, code, start - 1, window=0) is None
    assert totp_verify(secret, code, start, window=0) == step
    assert totp_verify(secret, code, start + 29, window=0) == step
    assert totp_verify(secret, code, start - 90, window=3) == step
    assert totp_verify(secret, code, start - 91, window=3) is None


def test_the_window_stops_at_step_zero() -> None:
    secret = SEEDS["SHA1"]
    assert totp_verify(secret, hotp_code(secret, 0), 0) == 0
    assert totp_verify(secret, hotp_code(secret, 1), 0) == 1
    assert totp_verify(secret, hotp_code(secret, 2), 0) is None


def test_the_latest_matching_step_is_returned() -> None:
    """Two steps of a window may share a code by chance; the later step is the one reported, so
    the replay guard remembers the furthest step. Under the RFC 4226 secret, steps 153567 and
    153569 both have the code 468457 (found by a search with the standard library's hmac)."""
    secret = SEEDS["SHA1"]
    assert hotp_code(secret, 153567) == hotp_code(secret, 153569) == "468457"
    assert hotp_code(secret, 153568) != "468457"
    assert totp_verify(secret, "468457", 153568 * 30) == 153569
    assert totp_verify(secret, "468457", 153567 * 30, window=0) == 153567
    assert totp_verify(secret, "468457", 153566 * 30) == 153567


@pytest.mark.parametrize(
    "code",
    [
        "",
        "28708",
        "2870820",
        "28708a",
        " 287082",
        "287082 ",
        "\uff12\uff18\uff17\uff10\uff18\uff12",
        "+28708",
        "-28708",
    ],
)
def test_malformed_codes_are_refused(code: str) -> None:
    assert totp_verify(SEEDS["SHA1"], code, 59) is None


def test_wrong_codes_are_refused() -> None:
    secret = SEEDS["SHA1"]
    good = totp_code(secret, 59)
    bad = f"{(int(good) + 1) % 1_000_000:06d}"
    assert totp_verify(secret, bad, 59) is None
    assert totp_verify(SEEDS["SHA256"][:20] + b"x", good, 59) is None


def test_codes_of_another_length_are_refused() -> None:
    secret = SEEDS["SHA1"]
    assert totp_verify(secret, totp_code(secret, 59, digits=8), 59) is None
    assert totp_verify(secret, totp_code(secret, 59), 59, digits=8) is None


@pytest.mark.parametrize("size", [0, 1, 15, 65, 200])
def test_secrets_outside_16_to_64_bytes_are_refused(size: int) -> None:
    with pytest.raises(InvalidKeyError, match="16 to 64 bytes"):
        totp_code(b"k" * size, 59)
    with pytest.raises(InvalidKeyError):
        hotp_code(b"k" * size, 0)
    with pytest.raises(InvalidKeyError):
        totp_verify(b"k" * size, "123456", 59)


@pytest.mark.parametrize("size", [16, 20, 64])
def test_secrets_of_16_to_64_bytes_work(size: int) -> None:
    assert len(totp_code(b"k" * size, 59)) == 6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"digits": 5},
        {"digits": 9},
        {"digits": 0},
        {"digits": -6},
        {"period": 0},
        {"period": -30},
        {"algorithm": "sha1"},
        {"algorithm": "SHA384"},
        {"algorithm": "MD5"},
        {"algorithm": ""},
        {"algorithm": "SHA1\0"},
    ],
)
def test_parameters_out_of_bounds_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        totp_code(SEEDS["SHA1"], 59, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        totp_verify(SEEDS["SHA1"], "123456", 59, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("at", [-1, -(2**40), 2**63, 2**80])
def test_times_out_of_range_are_configuration_errors(at: int) -> None:
    with pytest.raises(ConfigurationError):
        totp_code(SEEDS["SHA1"], at)
    with pytest.raises(ConfigurationError):
        totp_verify(SEEDS["SHA1"], "123456", at)


def test_the_largest_time_and_counter_work() -> None:
    assert len(totp_code(SEEDS["SHA1"], 2**63 - 1)) == 6
    assert hotp_code(SEEDS["SHA1"], 2**64 - 1) == pyotp.HOTP(base32_encode(SEEDS["SHA1"])).at(
        2**64 - 1
    )
    with pytest.raises(ConfigurationError):
        hotp_code(SEEDS["SHA1"], 2**64)
    with pytest.raises(ConfigurationError):
        hotp_code(SEEDS["SHA1"], -1)


@pytest.mark.parametrize("window", [-1, 11, 2**70])
def test_windows_out_of_bounds_are_configuration_errors(window: int) -> None:
    with pytest.raises(ConfigurationError):
        totp_verify(SEEDS["SHA1"], "123456", 59, window=window)


def test_wrong_types_are_type_errors() -> None:
    secret = SEEDS["SHA1"]
    for call in (
        lambda: totp_code("12345678901234567890", 59),  # type: ignore[arg-type]
        lambda: totp_code(bytearray(secret), 59),  # type: ignore[arg-type]
        lambda: totp_code(secret, 59.0),  # type: ignore[arg-type]
        lambda: totp_code(secret, True),
        lambda: totp_code(secret, 59, digits="6"),  # type: ignore[arg-type]
        lambda: totp_code(secret, 59, algorithm=b"SHA1"),  # type: ignore[arg-type]
        lambda: totp_verify(secret, 287082, 59),  # type: ignore[arg-type]
        lambda: totp_verify(secret, b"287082", 59),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError):
            call()


def test_the_parameters_after_the_time_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        totp_code(SEEDS["SHA1"], 59, 8)  # type: ignore[misc]


def test_new_secrets_are_160_bits_and_differ() -> None:
    secrets = {totp_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert {len(s) for s in secrets} == {20}
    assert len(totp_secret(32)) == 32
    for size in (15, 65):
        with pytest.raises(ConfigurationError):
            totp_secret(size)


# --- base32 -------------------------------------------------------------------------------------


def test_base32_round_trips_and_equals_the_standard_library() -> None:
    rng = random.Random(32)
    for n in range(0, 80):
        data = rng.randbytes(n)
        text = base32_encode(data)
        assert text == base64.b32encode(data).decode().rstrip("=")
        assert base32_decode(text) == data


def test_base32_rfc4648_vectors() -> None:
    for plain, encoded in [
        (b"", ""),
        (b"f", "MY"),
        (b"fo", "MZXQ"),
        (b"foo", "MZXW6"),
        (b"foob", "MZXW6YQ"),
        (b"fooba", "MZXW6YTB"),
        (b"foobar", "MZXW6YTBOI"),
    ]:
        assert base32_encode(plain) == encoded
        assert base32_decode(encoded) == plain


@pytest.mark.parametrize(
    "text",
    [
        "MY======",  # padding
        "my",  # lower case
        "MZXW 6",  # space
        "MZXW-6",  # separator
        "M",  # 1 mod 8: no byte string encodes to it
        "MZX",  # 3 mod 8
        "MZXW6Y",  # 6 mod 8
        "MZ",  # unused trailing bits not zero ("MY" is canonical)
        "MZXR",  # the same in a two-byte group
        "MZXW0",  # 0 is not in the alphabet
        "MZXW1",
        "MZXW8",
        "MZXW\u00e9",
        "MZXW\0",
        "\ud800",
    ],
)
def test_base32_decoding_is_strict(text: str) -> None:
    with pytest.raises(InvalidKeyError, match="base32"):
        base32_decode(text)


def test_base32_types() -> None:
    with pytest.raises(TypeError):
        base32_decode(b"MY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        base32_encode("f")  # type: ignore[arg-type]


# --- the Key URI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_otpauth_uri_parses_in_pyotp(algorithm: str) -> None:
    secret = totp_secret()
    uri = otpauth_uri(
        secret, "ada@example.com", "Vega Cloud", digits=8, period=60, algorithm=algorithm
    )
    assert uri.startswith("otpauth://totp/Vega%20Cloud:ada%40example.com?")
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == base32_encode(secret)
    assert parsed.name == "ada@example.com"
    assert parsed.issuer == "Vega Cloud"
    assert parsed.digits == 8
    assert parsed.interval == 60
    assert parsed.digest is PYOTP_DIGEST[algorithm]
    at = 1_700_000_000
    assert parsed.at(at) == totp_code(secret, at, digits=8, period=60, algorithm=algorithm)


def test_the_otpauth_uri_encodes_every_reserved_character() -> None:
    secret = SEEDS["SHA1"]
    account = "a b&c=d?e#f/g%h+i"
    issuer = "Ünïcode & Co/?#"
    uri = otpauth_uri(secret, account, issuer)
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.fragment == ""
    assert parts.path.count("/") == 1
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {
        "secret": ["GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"],
        "issuer": [issuer],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
    assert "+" not in uri and " " not in uri
    parsed = pyotp.parse_uri(uri)
    assert (parsed.name, parsed.issuer) == (account, issuer)


@pytest.mark.parametrize(
    ("account", "issuer"),
    [
        ("", "Vega"),
        ("ada", ""),
        ("a:b", "Vega"),
        ("ada", "Ve:ga"),
        ("x" * 257, "Vega"),
        ("\ud800", "Vega"),
    ],
)
def test_the_otpauth_uri_refuses_bad_labels(account: str, issuer: str) -> None:
    with pytest.raises(ConfigurationError):
        otpauth_uri(SEEDS["SHA1"], account, issuer)


def test_the_otpauth_uri_checks_the_secret_and_parameters() -> None:
    with pytest.raises(InvalidKeyError):
        otpauth_uri(b"short", "ada", "Vega")
    with pytest.raises(ConfigurationError):
        otpauth_uri(SEEDS["SHA1"], "ada", "Vega", digits=9)
    with pytest.raises(ConfigurationError):
        otpauth_uri(SEEDS["SHA1"], "ada", "Vega", algorithm="MD5")


def test_many_threads_get_the_single_thread_answers() -> None:
    """The HMACs run with the GIL released, so threads overlap in the core for real; their
    answers must be those of one thread."""
    rng = random.Random(8)
    cases = [
        (rng.randbytes(rng.choice([16, 20, 32, 64])), rng.randrange(0, 2**33), alg)
        for alg in ALGORITHMS
        for _ in range(100)
    ]

    def answers() -> list[tuple[str, int | None]]:
        out = []
        for secret, at, alg in cases:
            code = totp_code(secret, at, algorithm=alg)
            out.append((code, totp_verify(secret, code, at + 30, algorithm=alg)))
        return out

    expected = answers()
    assert all(step == at // 30 for (_, step), (_, at, _) in zip(expected, cases, strict=True))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: answers(), range(8)))
    assert all(r == expected for r in results)
