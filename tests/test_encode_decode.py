"""tokenward.encode / decode / Verifier / unverified_*: the module-level token API."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import types
from typing import Any

import pytest

import tokenward as tw
from tokenward import exceptions

NOW = 1_700_000_000
CLAIMS: dict[str, Any] = {"sub": "alice", "exp": NOW + 60}
RICH_CLAIMS: dict[str, Any] = {
    "sub": "ünïcødé ✓",
    "groups": ["root", "operator"],
    "nested": {"a": [1, {"b": None}], "c": {"d": {"e": "f"}}},
    "flag": True,
    "off": False,
    "nothing": None,
    "ratio": 1.5,
    "big": 2**63,
    "neg": -(2**63),
    "zero": 0,
    "empty": {},
    "list": [],
    "text": 'quotes " and \\ backslashes \n newlines',
}

# RFC 7515 A.1: an HS256 JWS and its key.
RFC7515_KEY = {
    "kty": "oct",
    "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
}
RFC7515_TOKEN = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)
# RFC 8037 A.4: an Ed25519 JWS over a payload that is not JSON.
RFC8037_KEY = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_TOKEN = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verifying_key(key: tw.JWK) -> tw.JWK:
    return key if key.key_type == "oct" else key.public()


def without(key: tw.JWK, *members: str) -> tw.JWK:
    return tw.JWK.from_json(
        {k: v for k, v in key.to_dict(private=True).items() if k not in members}
    )


@pytest.fixture(scope="module")
def generated() -> dict[str, tw.JWK]:
    return {alg: tw.JWK.generate(alg) for alg in tw.ALGORITHMS}


# --------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("alg", tw.ALGORITHMS)
def test_round_trip_every_algorithm(alg: str, generated: dict[str, tw.JWK]) -> None:
    key = generated[alg]
    token = tw.encode(RICH_CLAIMS, key)
    assert isinstance(token, str)
    assert token.count(".") == 2
    public = verifying_key(key)
    assert tw.decode(token, public, algorithms=[alg]) == RICH_CLAIMS
    assert tw.decode(token.encode(), public, algorithms=[alg]) == RICH_CLAIMS
    assert tw.decode(token, tw.JWKSet([public]), algorithms=[alg]) == RICH_CLAIMS
    verifier = tw.Verifier(public, algorithms=[alg])
    assert verifier.verify(token) == RICH_CLAIMS
    assert json.loads(verifier.verify_signature(token)) == RICH_CLAIMS
    assert tw.unverified_claims(token) == RICH_CLAIMS
    assert tw.unverified_header(token) == {"alg": alg, "typ": "JWT", "kid": key.kid}
    # one flipped signature bit
    head, payload, sig = token.split(".")
    raw = bytearray(b64d(sig))
    raw[len(raw) // 2] ^= 0x01
    tampered = f"{head}.{payload}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify(tampered)
    # another key of the same kind
    other = verifying_key(tw.JWK.generate(alg))
    with pytest.raises(tw.InvalidSignatureError):
        tw.decode(token, other, algorithms=[alg])


def test_rfc7515_hs256_known_answer() -> None:
    key = tw.JWK.from_json(RFC7515_KEY)
    verifier = tw.Verifier(key, algorithms=["HS256"])
    assert verifier.verify(RFC7515_TOKEN, now=1300819379) == {
        "iss": "joe",
        "exp": 1300819380,
        "http://example.com/is_root": True,
    }
    with pytest.raises(tw.ExpiredTokenError):
        verifier.verify(RFC7515_TOKEN, now=1300819380)
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(RFC7515_TOKEN, key, algorithms=["HS256"])


HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


# Key lengths around both block sizes, each at least as long as the hash (the key policy's floor).
BLOCK_EDGES = [
    (alg, length)
    for alg in sorted(HASHES)
    for length in (32, 48, 63, 64, 65, 127, 128, 129, 200)
    if length >= HASHES[alg]().digest_size
]


@pytest.mark.parametrize(("alg", "length"), BLOCK_EDGES)
def test_hmac_signatures_match_rfc_2104_around_the_block_size(alg: str, length: int) -> None:
    """The key schedule (K0: the key, or its hash past the block, zero-padded) is tokenward's own:
    keys just under, at and over the 64-byte (SHA-256) and 128-byte (SHA-384/512) blocks sign
    and verify exactly as Python's hmac does."""
    secret = bytes((7 * i + length) % 256 for i in range(length))
    key = tw.JWK.from_secret(secret, alg)
    for claims in ({"sub": "alice", "exp": NOW + 60}, {"data": "x" * 300, "exp": NOW + 60}):
        token = tw.encode(claims, key)
        signing_input, _, signature = token.rpartition(".")
        expected = hmac.new(secret, signing_input.encode(), HASHES[alg]).digest()
        assert b64d(signature) == expected
        assert tw.Verifier(key, algorithms=[alg]).verify(token, now=NOW) == claims
        zeros = base64.urlsafe_b64encode(bytes(len(expected))).decode().rstrip("=")
        forged = f"{signing_input}.{zeros}"
        with pytest.raises(tw.InvalidSignatureError):
            tw.Verifier(key, algorithms=[alg]).verify(forged, now=NOW)


def test_hs256_matches_hmac_at_every_padding_boundary() -> None:
    """HS256 may run on the CPU's SHA extensions (tokenward's own SHA-256 padding): messages of
    every length across one, two and three blocks, where the length field moves to a block of its
    own (55/56 bytes past a block), sign and verify as Python's hmac says; a flipped bit fails."""
    for length in (32, 64, 65, 200):
        secret = bytes((5 * i + length) % 256 for i in range(length))
        key = tw.JWK.from_secret(secret, "HS256")
        for size in [*range(0, 200), 1000, 4097]:
            message = bytes((3 * i + size) % 256 for i in range(size))
            expected = hmac.new(secret, message, hashlib.sha256).digest()
            assert tw._core._sign_raw("HS256", key, message) == expected
            assert tw._core._verify_raw("HS256", key, message, expected)
            flipped = bytes([expected[0] ^ 1]) + expected[1:]
            assert not tw._core._verify_raw("HS256", key, message, flipped)


def test_rfc8037_eddsa_known_answer_and_non_json_payload() -> None:
    private = tw.JWK.from_json(RFC8037_KEY)
    verifier = tw.Verifier(private.public(), algorithms=["EdDSA"])
    assert verifier.verify_signature(RFC8037_TOKEN) == b"Example of Ed25519 signing"
    assert verifier.verify_signature(RFC8037_TOKEN.encode()) == b"Example of Ed25519 signing"
    with pytest.raises(tw.MalformedTokenError):
        verifier.verify(RFC8037_TOKEN)
    with pytest.raises(tw.MalformedTokenError):
        tw.unverified_claims(RFC8037_TOKEN)
    assert tw.unverified_header(RFC8037_TOKEN) == {"alg": "EdDSA"}
    # Ed25519 is deterministic: signing the same input gives the RFC's signature
    signing_input = RFC8037_TOKEN.rsplit(".", 1)[0].encode()
    signature = tw._core._sign_raw("EdDSA", private, signing_input)
    assert base64.urlsafe_b64encode(signature).rstrip(b"=").decode() == RFC8037_TOKEN.split(".")[2]


def test_claims_may_be_any_mapping(generated: dict[str, tw.JWK]) -> None:
    key = generated["HS256"]
    token = tw.encode(types.MappingProxyType({"sub": "alice"}), key)
    assert tw.decode(token, key, algorithms=["HS256"]) == {"sub": "alice"}
    with pytest.raises(TypeError):
        tw.encode([("sub", "alice")], key)


# --------------------------------------------------------------------------------------------
# headers


def test_header_defaults(generated: dict[str, tw.JWK]) -> None:
    key = generated["ES256"]
    header = tw.unverified_header(tw.encode(CLAIMS, key))
    assert header == {"alg": "ES256", "typ": "JWT", "kid": key.kid}
    bare = without(key, "kid")
    assert tw.unverified_header(tw.encode(CLAIMS, bare)) == {"alg": "ES256", "typ": "JWT"}


def test_headers_are_added(generated: dict[str, tw.JWK]) -> None:
    key = generated["ES256"]
    token = tw.encode(CLAIMS, key, headers={"x-trace": "abc", "cty": "JWT", "n": [1, 2]})
    header = tw.unverified_header(token)
    assert header["x-trace"] == "abc"
    assert header["cty"] == "JWT"
    assert header["n"] == [1, 2]
    assert header["alg"] == "ES256"
    assert header["kid"] == key.kid
    assert tw.Verifier(key.public(), algorithms=["ES256"]).verify(token, now=NOW) == CLAIMS

    at = tw.unverified_header(tw.encode(CLAIMS, key, headers={"typ": "at+jwt", "kid": "k2"}))
    assert at["typ"] == "at+jwt"
    assert at["kid"] == "k2"
    # the same alg is allowed to be restated
    same = tw.encode(CLAIMS, key, headers={"alg": "ES256"})
    assert tw.unverified_header(same)["alg"] == "ES256"


@pytest.mark.parametrize("alg", ["HS256", "ES384", "none", "None", "RS256", 256, None])
def test_headers_cannot_change_alg(alg: Any, generated: dict[str, tw.JWK]) -> None:
    with pytest.raises(tw.ConfigurationError):
        tw.encode(CLAIMS, generated["ES256"], headers={"alg": alg})


def test_algorithm_argument(generated: dict[str, tw.JWK]) -> None:
    rsa_key = without(generated["RS256"], "alg")
    assert rsa_key.algorithm is None
    with pytest.raises(tw.ConfigurationError):
        tw.encode(CLAIMS, rsa_key)
    for alg in ("RS256", "RS512", "PS256", "PS384"):
        token = tw.encode(CLAIMS, rsa_key, algorithm=alg)
        assert tw.unverified_header(token)["alg"] == alg
        assert tw.Verifier(rsa_key.public(), algorithms=[alg]).verify(token, now=NOW) == CLAIMS
    # a key with its own alg: algorithm= may restate it but not change it
    keyed = generated["RS256"]
    assert tw.unverified_header(tw.encode(CLAIMS, keyed, algorithm="RS256"))["alg"] == "RS256"
    with pytest.raises(tw.ConfigurationError):
        tw.encode(CLAIMS, keyed, algorithm="PS256")
    with pytest.raises(tw.ConfigurationError):
        tw.encode(CLAIMS, rsa_key, algorithm="none")
    with pytest.raises(tw.ConfigurationError):
        tw.encode(CLAIMS, rsa_key, algorithm="RS1")


@pytest.mark.parametrize(
    ("source", "alg"), [("RS256", "ES256"), ("ES256", "ES384"), ("EdDSA", "HS256")]
)
def test_algorithm_argument_must_fit_the_key(
    source: str, alg: str, generated: dict[str, tw.JWK]
) -> None:
    """Signing with an algorithm the key cannot do is the caller's mistake, not a bad token."""
    key = without(generated[source], "alg")
    with pytest.raises(tw.ConfigurationError):
        tw.encode(CLAIMS, key, algorithm=alg)


def test_encode_with_public_key(generated: dict[str, tw.JWK]) -> None:
    for alg in ("RS256", "PS256", "ES256", "ES512", "EdDSA"):
        with pytest.raises(tw.InvalidKeyError):
            tw.encode(CLAIMS, generated[alg].public())


def test_encode_with_key_not_for_signing(generated: dict[str, tw.JWK]) -> None:
    private = generated["ES256"].to_dict(private=True)
    for members in ({"use": "enc"}, {"key_ops": ["verify"]}, {"key_ops": ["decrypt"]}):
        with pytest.raises(tw.InvalidKeyError):
            tw.encode(CLAIMS, tw.JWK.from_json({**private, **members}))
    for members in ({"use": "sig"}, {"key_ops": ["sign"]}, {"key_ops": ["sign", "verify"]}):
        tw.encode(CLAIMS, tw.JWK.from_json({**private, **members}))


# --------------------------------------------------------------------------------------------
# datetimes


def test_datetime_claims_become_numeric_dates(generated: dict[str, tw.JWK]) -> None:
    key = generated["HS256"]
    exp = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    nbf = dt.datetime(2020, 1, 1, 0, 0, 0)  # naive: taken as UTC
    iat = dt.datetime(2021, 6, 1, 12, 0, 0, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    token = tw.encode({"sub": "alice", "exp": exp, "nbf": nbf, "iat": iat}, key)
    claims = tw.unverified_claims(token)
    assert claims["exp"] == int(exp.timestamp()) == 1893553445
    assert claims["nbf"] == 1577836800
    assert claims["iat"] == int(iat.timestamp())
    assert all(type(claims[name]) is int for name in ("exp", "nbf", "iat"))
    assert tw.decode(token, key, algorithms=["HS256"]) == claims
    original = {"exp": exp}
    tw.encode(original, key)
    assert original == {"exp": exp}


# --------------------------------------------------------------------------------------------
# unverified inspection


def test_unverified_header_and_claims(generated: dict[str, tw.JWK]) -> None:
    key = generated["ES256"]
    token = tw.encode(CLAIMS, key)
    for value in (token, token.encode()):
        assert tw.unverified_header(value)["kid"] == key.kid
        assert tw.unverified_claims(value) == CLAIMS
    # nothing is verified: a token signed by another key reads the same
    forged = tw.encode(CLAIMS, tw.JWK.generate("ES256"), headers={"kid": key.kid})
    assert tw.unverified_header(forged)["kid"] == key.kid
    assert tw.unverified_claims(forged) == CLAIMS
    for bad in ("", "abc", "a.b", "e30.e30", "!!.e30.AA", "{}"):
        with pytest.raises(tw.MalformedTokenError):
            tw.unverified_claims(bad)
    for bad in ("", "!!", "e30x.e30.AA", "!!.e30.AA"):
        with pytest.raises(tw.MalformedTokenError):
            tw.unverified_header(bad)


@pytest.mark.parametrize("header", ["W10", "MQ", "bnVsbA", "InN0ciI"])  # [], 1, null, "str"
def test_unverified_header_must_be_an_object(header: str) -> None:
    """unverified_header returns a dict; a header that is not a JSON object is malformed."""
    with pytest.raises(tw.MalformedTokenError):
        tw.unverified_header(f"{header}.e30.AA")
    with pytest.raises(tw.MalformedTokenError):
        tw.unverified_claims(f"{header}.e30.AA")


# --------------------------------------------------------------------------------------------
# Verifier


def test_verify_now_override(generated: dict[str, tw.JWK]) -> None:
    key = generated["HS256"]
    token = tw.encode({"sub": "alice", "nbf": NOW, "exp": NOW + 60}, key)
    verifier = tw.Verifier(key, algorithms=["HS256"])
    assert verifier.verify(token, now=NOW)["sub"] == "alice"
    assert verifier.verify(token, now=NOW + 59.5)["sub"] == "alice"
    assert verifier.verify(token.encode(), now=float(NOW))["sub"] == "alice"
    with pytest.raises(tw.ExpiredTokenError):
        verifier.verify(token, now=NOW + 60)
    with pytest.raises(tw.ImmatureTokenError):
        verifier.verify(token, now=NOW - 1)
    with pytest.raises(tw.ExpiredTokenError):
        verifier.verify(token)  # the real clock is long past NOW + 60
    future = tw.encode({"sub": "alice", "nbf": 4_000_000_000}, key)
    with pytest.raises(tw.ImmatureTokenError):
        verifier.verify(future)
    assert verifier.verify(future, now=4_000_000_000)["sub"] == "alice"


def test_verifier_properties(generated: dict[str, tw.JWK]) -> None:
    key = generated["ES256"]
    verifier = tw.Verifier(key.public(), algorithms=["ES256", "ES384"])
    assert verifier.algorithms == ["ES256", "ES384"]
    assert isinstance(verifier.keys, tw.JWKSet)
    assert [k.thumbprint() for k in verifier.keys] == [key.thumbprint()]
    keyset = tw.JWKSet([generated["ES256"].public(), generated["RS256"].public()])
    verifier = tw.Verifier(keyset, algorithms=("RS256", "ES256"))
    assert verifier.algorithms == ["RS256", "ES256"]
    assert [k.kid for k in verifier.keys] == [k.kid for k in keyset]


def test_verifier_configuration_errors(generated: dict[str, tw.JWK]) -> None:
    key = generated["ES256"].public()
    for algorithms in ([], (), ["none"], ["ES256", "none"], ["ES999"], ["es256"], [""]):
        with pytest.raises(tw.ConfigurationError):
            tw.Verifier(key, algorithms=algorithms)
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(key, algorithms=["ES384", "RS256", "HS256"])  # none fits the key
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(key, algorithms=["ES256"], leeway=-1)
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(key, algorithms=["ES256"], audience=[])
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(key, algorithms=["ES256"], issuer=[])
    with pytest.raises((TypeError, tw.ConfigurationError)):
        tw.Verifier(key, algorithms="ES256")  # a str is not a list of names
    with pytest.raises(TypeError):
        tw.Verifier("not a key", algorithms=["ES256"])
    token = tw.encode(CLAIMS, generated["ES256"])
    with pytest.raises(tw.ConfigurationError):
        tw.decode(token, key, algorithms=[])


def test_max_token_size(generated: dict[str, tw.JWK]) -> None:
    key = generated["HS256"]
    token = tw.encode(CLAIMS, key)
    exact = tw.Verifier(key, algorithms=["HS256"], max_token_size=len(token))
    assert exact.verify(token, now=NOW) == CLAIMS
    small = tw.Verifier(key, algorithms=["HS256"], max_token_size=len(token) - 1)
    with pytest.raises(tw.MalformedTokenError):
        small.verify(token, now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        small.verify_signature(token)
    big_claims = {"sub": "alice", "blob": "x" * 70_000}
    big = tw.encode(big_claims, key)
    with pytest.raises(tw.MalformedTokenError):
        tw.Verifier(key, algorithms=["HS256"]).verify(big)  # 64 KiB by default
    roomy = tw.Verifier(key, algorithms=["HS256"], max_token_size=1 << 20)
    assert roomy.verify(big) == big_claims


def test_payload_must_be_a_json_object(generated: dict[str, tw.JWK]) -> None:
    key = generated["HS256"]
    token = tw.encode(CLAIMS, key)
    verifier = tw.Verifier(key, algorithms=["HS256"])
    head = token.split(".")[0]
    for payload in (b"[1,2]", b'"alice"', b"1", b"null", b"", b"{", b"{}x", b"\xff"):
        signing_input = f"{head}.{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}"
        sig = tw._core._hmac("HS256", b64d(key.to_dict(private=True)["k"]), signing_input.encode())
        forged = f"{signing_input}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
        assert verifier.verify_signature(forged) == payload
        with pytest.raises(tw.MalformedTokenError):
            verifier.verify(forged, now=NOW)


# --------------------------------------------------------------------------------------------
# exceptions


TOKEN_ERRORS = [
    "MalformedTokenError",
    "InvalidSignatureError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InvalidIssuerError",
    "InvalidAudienceError",
    "MissingClaimError",
    "InvalidClaimError",
    "KeyNotFoundError",
    "UnsupportedAlgorithmError",
]


def test_exception_tree() -> None:
    assert issubclass(tw.TokenwardError, Exception)
    assert issubclass(tw.InvalidTokenError, tw.TokenwardError)
    assert issubclass(tw.InvalidTokenError, ValueError)
    for name in TOKEN_ERRORS:
        cls = getattr(tw, name)
        assert cls is getattr(exceptions, name)
        assert issubclass(cls, tw.InvalidTokenError)
        assert issubclass(cls, ValueError)
        assert issubclass(cls, tw.TokenwardError)
    for cls in (tw.InvalidKeyError, tw.ConfigurationError):
        assert issubclass(cls, tw.TokenwardError)
        assert not issubclass(cls, tw.InvalidTokenError)
    assert not issubclass(tw.InvalidKeyError, tw.ConfigurationError)
    assert not issubclass(tw.ConfigurationError, tw.InvalidKeyError)
    distinct = [getattr(tw, n) for n in TOKEN_ERRORS]
    for a in distinct:
        for b in distinct:
            assert a is b or not issubclass(a, b)


def test_errors_are_raised_as_documented_types(generated: dict[str, tw.JWK]) -> None:
    key = generated["HS256"]
    with pytest.raises(ValueError):
        tw.decode("garbage", key, algorithms=["HS256"])
    with pytest.raises(tw.InvalidTokenError):
        tw.decode("garbage", key, algorithms=["HS256"])
    try:
        tw.JWK.from_secret(b"")
    except tw.TokenwardError as exc:
        assert not isinstance(exc, tw.InvalidTokenError)
    else:  # pragma: no cover
        pytest.fail("from_secret(b'') did not raise")
