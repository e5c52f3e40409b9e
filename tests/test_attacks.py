"""Attack regressions: one test per class of vulnerability seen in JWT/JOSE libraries.

Each test is named after the attack and its docstring names the advisory class it guards
against. Tokens are mostly built by hand (and signed correctly) so that the one thing under test
is the only thing wrong with them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

import tokenward as tw

SECRET = b"tokenward-attack-tests-hmac-secret-0123456789"
NOW = 1_700_000_000
CLAIMS: dict[str, Any] = {"sub": "alice", "iat": NOW - 10, "exp": NOW + 3600}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Group orders n of the NIST curves (FIPS 186-4, D.1.2).
CURVE_ORDERS = {
    "ES256": int("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16),
    "ES384": int(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
        "581a0db248b0a77aecec196accc52973",
        16,
    ),
    "ES512": int(
        "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
        16,
    ),
}
SCALAR_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}


# --------------------------------------------------------------------------------------------
# helpers


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def lenient_b64decode(text: str) -> bytes:
    """What a permissive decoder does: ignores padding, stray bits, '+' '/' and whitespace."""
    return base64.b64decode(text.replace("-", "+").replace("_", "/") + "==")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def hs256(signing_input: str, secret: bytes = SECRET) -> str:
    return b64e(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def hs256_token(header: bytes | dict[str, Any], payload: bytes | dict[str, Any]) -> str:
    """A compact JWS over exactly these header and payload bytes, correctly HS256-signed."""
    header_bytes = header if isinstance(header, bytes) else dumps(header)
    payload_bytes = payload if isinstance(payload, bytes) else dumps(payload)
    signing_input = f"{b64e(header_bytes)}.{b64e(payload_bytes)}"
    return f"{signing_input}.{hs256(signing_input)}"


def resign(header_seg: str, payload_seg: str) -> str:
    """Sign the literal segments, so only their encoding can be wrong."""
    signing_input = f"{header_seg}.{payload_seg}"
    return f"{signing_input}.{hs256(signing_input)}"


def hs_verifier(**kwargs: Any) -> tw.Verifier:
    kwargs.setdefault("algorithms", ["HS256"])
    return tw.Verifier(tw.JWK.from_secret(SECRET), **kwargs)


def with_signature(token: str, signature: bytes) -> str:
    head, payload, _ = token.split(".")
    return f"{head}.{payload}.{b64e(signature)}"


@pytest.fixture(scope="module")
def hs_key() -> tw.JWK:
    return tw.JWK.from_secret(SECRET, "HS256")


@pytest.fixture(scope="module")
def rsa_private_crypto() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key(rsa_private_crypto: rsa.RSAPrivateKey) -> tw.JWK:
    pem = rsa_private_crypto.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return tw.JWK.from_pem(pem, "RS256")


@pytest.fixture(scope="module")
def rsa_public_pem(rsa_private_crypto: rsa.RSAPrivateKey) -> bytes:
    return rsa_private_crypto.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def ec_keys() -> dict[str, tw.JWK]:
    return {alg: tw.JWK.generate(alg) for alg in ("ES256", "ES384", "ES512")}


# --------------------------------------------------------------------------------------------
# alg "none"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl", "valid-hmac"])
def test_alg_none(alg: str, signature: str, ec_keys: dict[str, tw.JWK]) -> None:
    """alg "none" class (McLean 2015, "Critical vulnerabilities in JSON Web Token libraries";
    CWE-347): unsigned tokens accepted as valid.

    Whatever the signature (empty, arbitrary, or a real HMAC of the signing input) and however
    many algorithms the verifier allows, a token whose alg is any spelling of "none" is refused.
    """
    signing_input = f"{b64e(dumps({'alg': alg, 'typ': 'JWT'}))}.{b64e(dumps(CLAIMS))}"
    sig = hs256(signing_input) if signature == "valid-hmac" else signature
    token = f"{signing_input}.{sig}"

    hmac_verifier = tw.Verifier(
        tw.JWK.from_secret(SECRET + SECRET), algorithms=["HS256", "HS384", "HS512"]
    )
    with pytest.raises(tw.UnsupportedAlgorithmError):
        hmac_verifier.verify(token, now=NOW)
    with pytest.raises(tw.UnsupportedAlgorithmError):
        hmac_verifier.verify_signature(token)

    asymmetric = tw.JWKSet([k.public() for k in ec_keys.values()])
    many = [a for a in tw.ALGORITHMS if not a.startswith("HS")]
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(asymmetric, algorithms=many).verify(token, now=NOW)


@pytest.mark.parametrize(
    "algorithms", [["none"], ["HS256", "none"], ["None"], ["NONE"], ["HS256", "NONE"]]
)
def test_alg_none_in_allow_list_is_a_configuration_error(
    algorithms: list[str], hs_key: tw.JWK
) -> None:
    """alg "none" class (CWE-347): a verifier cannot even be configured to accept "none"."""
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(hs_key, algorithms=algorithms)
    token = tw.encode(CLAIMS, hs_key)
    with pytest.raises(tw.ConfigurationError):
        tw.decode(token, hs_key, algorithms=algorithms)


# --------------------------------------------------------------------------------------------
# HMAC / public key confusion


def _public_texts(rsa_private_crypto: rsa.RSAPrivateKey) -> dict[str, bytes]:
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    rsa_public = rsa_private_crypto.public_key()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    openssh = serialization.Encoding.OpenSSH
    return {
        "rsa-spki-pem": rsa_public.public_bytes(pem, spki),
        "rsa-pkcs1-pem": rsa_public.public_bytes(pem, serialization.PublicFormat.PKCS1),
        "ec-spki-pem": ec_public.public_bytes(pem, spki),
        "rsa-ssh": rsa_public.public_bytes(openssh, serialization.PublicFormat.OpenSSH),
        "ec-ssh": ec_public.public_bytes(openssh, serialization.PublicFormat.OpenSSH),
        "rsa-certificate": _self_signed_cert(rsa_private_crypto).public_bytes(pem),
    }


def _fragment(text: bytes) -> str:
    """A distinctive piece of key material from PEM or SSH text."""
    decoded = text.decode()
    if decoded.startswith("-----"):
        return decoded.splitlines()[1][:40]
    return decoded.split()[1][:40]


def _public_jwk_texts() -> dict[str, bytes]:
    return {
        "rsa-jwk-json": tw.JWK.generate("RS256").public().to_json().encode(),
        "ec-jwk-json": tw.JWK.generate("ES256").public().to_json().encode(),
    }


def _self_signed_cert(
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.example")])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
        .sign(private, hashes.SHA256())
    )


def test_hmac_public_key_confusion(
    rsa_private_crypto: rsa.RSAPrivateKey, rsa_key: tw.JWK, rsa_public_pem: bytes
) -> None:
    """HS/RS algorithm confusion: CVE-2015-9235 (jsonwebtoken), CVE-2016-10555 (jwt-simple),
    CVE-2017-11424 and CVE-2022-29217 (PyJWT: PKCS#1 and SSH public keys as HMAC secrets).

    A public key (PEM, SSH or certificate text) must never become an HMAC secret, and an HS256
    token signed with the public key's PEM bytes must not verify against that public key even
    when the verifier lists both RS256 and HS256.
    """
    for label, text in _public_texts(rsa_private_crypto).items():
        for value in (text, text.decode()):
            with pytest.raises(tw.InvalidKeyError) as exc:
                tw.JWK.from_secret(value)
            assert _fragment(text) not in str(exc.value), label
            with pytest.raises(tw.InvalidKeyError):
                tw.JWK.from_secret(value, "HS256")
        # the same through an oct JWK whose "k" is the public key text
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({"kty": "oct", "k": b64e(text)})

    public = rsa_key.public()
    signing_input = f"{b64e(dumps({'alg': 'HS256', 'typ': 'JWT'}))}.{b64e(dumps(CLAIMS))}"
    for secret in (rsa_public_pem, rsa_public_pem.strip(), public.to_json().encode()):
        token = f"{signing_input}.{hs256(signing_input, secret)}"
        with pytest.raises(tw.UnsupportedAlgorithmError):
            tw.Verifier(public, algorithms=["RS256", "HS256"]).verify(token, now=NOW)
        with pytest.raises(tw.UnsupportedAlgorithmError):
            tw.decode(token, public, algorithms=["HS256", "RS256"])

    # through a key set, with the token naming the RSA key's kid
    named = tw.JWK.from_json({**public.to_dict(), "kid": "rsa-1"})
    head = b64e(dumps({"alg": "HS256", "kid": "rsa-1"}))
    signing_input = f"{head}.{b64e(dumps(CLAIMS))}"
    token = f"{signing_input}.{hs256(signing_input, rsa_public_pem)}"
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(tw.JWKSet([named]), algorithms=["RS256", "HS256"]).verify(token, now=NOW)


@pytest.mark.parametrize("label", ["rsa-jwk-json", "ec-jwk-json"])
def test_hmac_public_key_confusion_jwk_text_as_secret(label: str) -> None:
    """CVE-2022-29217 class (PyJWT): a public key's JWK JSON text used as an HMAC secret."""
    text = _public_jwk_texts()[label]
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_secret(text)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_secret(text.decode(), "HS256")


# --------------------------------------------------------------------------------------------
# psychic signatures


def _psychic_cases(alg: str, r: int, s: int) -> dict[str, tuple[int, int]]:
    n = CURVE_ORDERS[alg]
    top = (1 << (8 * SCALAR_SIZES[alg])) - 1
    return {
        "r=s=0": (0, 0),
        "r=0": (0, s),
        "s=0": (r, 0),
        "r=n": (n, s),
        "s=n": (r, n),
        "r=s=n": (n, n),
        "r=n+1": (n + 1, s),
        "s=n+1": (r, n + 1),
        "r=max": (top, s),
        "s=max": (r, top),
        "r=n,s=0": (n, 0),
    }


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
@pytest.mark.parametrize(
    "case",
    ["r=s=0", "r=0", "s=0", "r=n", "s=n", "r=s=n", "r=n+1", "s=n+1", "r=max", "s=max", "r=n,s=0"],
)
def test_psychic_ecdsa_signatures(alg: str, case: str, ec_keys: dict[str, tw.JWK]) -> None:
    """CVE-2022-21449 ("psychic signatures") class: ECDSA r or s outside [1, n-1] accepted.

    r = s = 0 verified anything in Java 15-18; scalars equal to or above the group order n must be
    refused before any curve arithmetic as well.
    """
    key = ec_keys[alg]
    size = SCALAR_SIZES[alg]
    token = tw.encode(CLAIMS, key)
    verifier = tw.Verifier(key.public(), algorithms=[alg])
    assert verifier.verify(token, now=NOW)["sub"] == "alice"

    raw = b64d(token.split(".")[2])
    assert len(raw) == 2 * size
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    bad_r, bad_s = _psychic_cases(alg, r, s)[case]
    bad = bad_r.to_bytes(size, "big") + bad_s.to_bytes(size, "big")
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify(with_signature(token, bad), now=NOW)
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(with_signature(token, bad))


# Ed25519's group order L (RFC 8032 §5.1).
ED25519_L = 2**252 + 27742317777372353535851937790883648493


def _ed25519_public(x: bytes) -> tw.JWK:
    return tw.JWK.from_json({"kty": "OKP", "crv": "Ed25519", "x": b64e(x)})


@pytest.mark.parametrize(
    "case", ["S+L", "S+2L", "S=L", "S=2^255-1", "small-order key, R=identity, S=0"]
)
def test_strict_ed25519_signatures(case: str) -> None:
    """Ed25519 malleability and small-order keys: S must be canonical (S < L, RFC 8032 §5.1.7),
    and a small-order public key (the identity here) must not verify anything, as it would under a
    check that only tests [S]B = R + [k]A with R = identity and S = 0."""
    key = tw.JWK.generate("EdDSA")
    token = tw.encode(CLAIMS, key)
    verifier = tw.Verifier(key.public(), algorithms=["EdDSA"])
    assert verifier.verify(token, now=NOW)["sub"] == "alice"
    raw = b64d(token.split(".")[2])
    r, s = raw[:32], int.from_bytes(raw[32:], "little")
    if case == "small-order key, R=identity, S=0":
        identity = (1).to_bytes(32, "little")
        verifier = tw.Verifier(_ed25519_public(identity), algorithms=["EdDSA"])
        bad = identity + bytes(32)
    else:
        bad_s = {"S+L": s + ED25519_L, "S+2L": s + 2 * ED25519_L, "S=L": ED25519_L}.get(
            case, 2**255 - 1
        )
        bad = r + bad_s.to_bytes(32, "little")
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify(with_signature(token, bad), now=NOW)
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(with_signature(token, bad))


# --------------------------------------------------------------------------------------------
# crit


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"crit": ["exp"], "exp": 1363284000}, id="unknown-ext-exp"),
        pytest.param({"crit": ["x-tokenward-test"], "x-tokenward-test": True}, id="unknown-ext"),
        pytest.param({"crit": ["x-absent"]}, id="listed-but-absent"),
        pytest.param({"crit": ["alg"]}, id="registered-alg"),
        pytest.param({"crit": ["kid"], "kid": "k1"}, id="registered-kid"),
        pytest.param({"crit": ["typ"]}, id="registered-typ"),
        pytest.param({"crit": []}, id="empty"),
        pytest.param({"crit": "exp", "exp": 1}, id="string"),
        pytest.param({"crit": {"exp": True}}, id="object"),
        pytest.param({"crit": None}, id="null"),
        pytest.param({"crit": [1]}, id="non-string-entry"),
        pytest.param({"crit": True}, id="bool"),
    ],
)
def test_unknown_crit(extra: dict[str, Any], hs_key: tw.JWK) -> None:
    """RFC 7515 §4.1.11 "crit ignored" class (CWE-347): critical headers not honoured.

    A verifier that understands no extensions must refuse any token with a "crit" header, and a
    "crit" that is not a non-empty array of extension names is malformed.
    """
    token = tw.encode(CLAIMS, hs_key, headers=extra)
    with pytest.raises(tw.MalformedTokenError):
        tw.Verifier(hs_key, algorithms=["HS256"]).verify(token, now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        tw.Verifier(hs_key, algorithms=["HS256"]).verify_signature(token)


@pytest.mark.parametrize("b64", [False, 0, "false", None])
def test_unencoded_payload_option_refused(b64: Any, hs_key: tw.JWK) -> None:
    """RFC 7797 "b64": false changes what is signed; without support it must not be accepted.

    A token carrying any "b64" other than true (with or without "crit") is malformed, so a
    verifier never checks a signature over bytes it did not mean to sign.
    """
    for extra in ({"b64": b64}, {"b64": b64, "crit": ["b64"]}):
        token = tw.encode(CLAIMS, hs_key, headers=extra)
        with pytest.raises(tw.MalformedTokenError):
            tw.Verifier(hs_key, algorithms=["HS256"]).verify(token, now=NOW)


# --------------------------------------------------------------------------------------------
# issuer matching

ISSUER = "https://issuer.example.com"


@pytest.mark.parametrize(
    "iss",
    [
        "https://issuer.example.com.evil",
        "https://issuer.example.com.evil.example",
        "https://issuer.example",
        "https://issuer.example.co",
        "https://issuer.example.com/",
        "https://issuer.example.com/evil",
        "https://issuer.example.com#",
        "https://issuer.example.com?",
        "HTTPS://issuer.example.com",
        "https://Issuer.Example.com",
        "https://ISSUER.EXAMPLE.COM",
        "http://issuer.example.com",
        " https://issuer.example.com",
        "https://issuer.example.com ",
        "https://issuer.example.com\n",
        "https://issuer.example.com\x00",
        "https://evil.example/https://issuer.example.com",
        "https://evil.example?https://issuer.example.com",
        "https://issuer.example.com@evil.example",
        "",
        ["https://issuer.example.com"],
        ["https://issuer.example.com", "https://evil.example"],
        {"iss": "https://issuer.example.com"},
        1,
    ],
)
def test_issuer_prefix_and_suffix_match(iss: Any, hs_key: tw.JWK) -> None:
    """Loose claim comparison class (CWE-697): issuer checked with startswith/contains/casefold.

    The issuer is compared as an exact string; prefixes, suffixes, trailing slashes, case
    changes, whitespace and non-string values never match.
    """
    good = tw.encode({**CLAIMS, "iss": ISSUER}, hs_key)
    verifier = tw.Verifier(hs_key, algorithms=["HS256"], issuer=ISSUER)
    assert verifier.verify(good, now=NOW)["iss"] == ISSUER

    token = tw.encode({**CLAIMS, "iss": iss}, hs_key)
    with pytest.raises(tw.InvalidIssuerError):
        verifier.verify(token, now=NOW)
    with pytest.raises(tw.InvalidIssuerError):
        tw.Verifier(hs_key, algorithms=["HS256"], issuer=[ISSUER, "https://other.example"]).verify(
            token, now=NOW
        )


# --------------------------------------------------------------------------------------------
# duplicate JSON members

GOOD_HEADER = b'{"alg":"HS256","typ":"JWT"}'
GOOD_PAYLOAD = dumps(CLAIMS)


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        pytest.param(b'{"alg":"HS256","alg":"none"}', GOOD_PAYLOAD, id="header-alg-then-none"),
        pytest.param(b'{"alg":"none","alg":"HS256"}', GOOD_PAYLOAD, id="header-none-then-alg"),
        pytest.param(b'{"alg":"HS256","alg":"HS256"}', GOOD_PAYLOAD, id="header-alg-same-twice"),
        pytest.param(b'{"alg":"HS256","kid":"a","kid":"b"}', GOOD_PAYLOAD, id="header-kid-twice"),
        pytest.param(
            b'{"alg":"HS256","x":{"y":1,"y":2}}', GOOD_PAYLOAD, id="header-nested-duplicate"
        ),
        pytest.param(
            b'{"alg":"HS256","\\u0061lg":"none"}', GOOD_PAYLOAD, id="header-escaped-duplicate"
        ),
        pytest.param(
            GOOD_HEADER,
            b'{"sub":"alice","sub":"admin","exp":1700003600}',
            id="payload-sub-twice",
        ),
        pytest.param(
            GOOD_HEADER,
            b'{"sub":"alice","exp":1,"exp":9999999999}',
            id="payload-exp-twice",
        ),
        pytest.param(
            GOOD_HEADER,
            b'{"sub":"alice","s\\u0075b":"admin","exp":1700003600}',
            id="payload-escaped-duplicate",
        ),
        pytest.param(
            GOOD_HEADER,
            b'{"sub":"alice","exp":1700003600,"ctx":{"role":"user","role":"admin"}}',
            id="payload-nested-object",
        ),
        pytest.param(
            GOOD_HEADER,
            b'{"sub":"alice","exp":1700003600,"groups":[{"name":"a","name":"root"}]}',
            id="payload-nested-in-array",
        ),
        pytest.param(
            GOOD_HEADER,
            b'{"cognito:groups":["a"],"exp":1700003600,"cognito:groups":["root"]}',
            id="payload-long-name-twice",
        ),
        pytest.param(
            GOOD_HEADER,
            b'{"abcdefgh":1,"abcdefgX":2,"exp":1700003600,"abcdefgh":3}',
            id="payload-long-name-twice-among-same-prefix",
        ),
    ],
)
def test_duplicate_json_members(header: bytes, payload: bytes) -> None:
    """JSON parser-differential class (RFC 7515 §5.2, CWE-436): duplicate member names.

    Two parsers that pick different duplicates (first vs last) disagree about alg, sub or exp;
    a strict parser refuses every duplicate, however deeply nested or however escaped.
    """
    token = hs256_token(header, payload)
    with pytest.raises(tw.MalformedTokenError):
        hs_verifier().verify(token, now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        tw.unverified_claims(token)


def test_duplicate_json_members_control() -> None:
    """The hand-built tokens above are otherwise valid."""
    token = hs256_token(GOOD_HEADER, GOOD_PAYLOAD)
    assert hs_verifier().verify(token, now=NOW) == CLAIMS


# --------------------------------------------------------------------------------------------
# the two JSON parsers agree

# Claims are parsed by simdjson on the verify path and by nlohmann elsewhere (keys, JWKS, field
# values). A text one accepts and the other refuses, or reads differently, is a parser
# differential; cpp/fuzz/fuzz_json.cpp looks for them, and these are the edges it found or that
# are known to split JSON parsers.
_OCT_JWK = '{"kty":"oct","k":"' + base64.urlsafe_b64encode(SECRET).rstrip(b"=").decode() + '","x":'

_EDGE_VALUES: list[tuple[bytes, Any]] = [
    (b"18446744073709551615", 18446744073709551615),
    (b"-9223372036854775808", -9223372036854775808),
    (b"1e308", 1e308),
    (b"-0", 0),
    (b"0.5e-3", 0.0005),
    (b'"\\u0000"', "\x00"),
    (b'"\\ud83d\\ude00"', "\U0001f600"),
    (b"[" * 15 + b"1" + b"]" * 15, json.loads("[" * 15 + "1" + "]" * 15)),
    (b"[" * 15 + b"]" * 15, json.loads("[" * 15 + "]" * 15)),
]
_EDGE_REFUSED: list[bytes] = [
    b"18446744073709551616",  # past uint64: refused rather than rounded to a double
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    b"1e400",  # not finite
    b'"\\ud800"',  # lone surrogate
    b'"\\udc00x"',
    b'"\xc3\x28"',  # invalid UTF-8
    b"[" * 16 + b"1" + b"]" * 16,  # 17 levels with the claims object
    b"[" * 16 + b"]" * 16,
    b"01",
    b"1.",
]


@pytest.mark.parametrize(("text", "value"), _EDGE_VALUES)
def test_json_parsers_agree_on_accepted_edges(text: bytes, value: Any) -> None:
    """Both parsers accept these and read the same value as Python's json module."""
    token = hs256_token(GOOD_HEADER, b'{"sub":"alice","exp":1700003600,"x":' + text + b"}")
    assert hs_verifier().verify(token, now=NOW)["x"] == value
    assert tw.unverified_claims(token)["x"] == value
    if not text.startswith(b"[["):  # key documents are held to 8 levels, tokens to 16
        tw.JWK.from_json(_OCT_JWK.encode() + text + b"}")


@pytest.mark.parametrize("text", _EDGE_REFUSED)
def test_json_parsers_agree_on_refused_edges(text: bytes) -> None:
    """Both parsers refuse these (verify path, unverified reads, key import)."""
    token = hs256_token(GOOD_HEADER, b'{"sub":"alice","exp":1700003600,"x":' + text + b"}")
    with pytest.raises(tw.MalformedTokenError):
        hs_verifier().verify(token, now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        tw.unverified_claims(token)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json(_OCT_JWK.encode() + text + b"}")


@pytest.mark.parametrize("tail", [b"\x00", b"\x00garbage", b" x", b"}"])
def test_json_trailing_bytes_are_refused(tail: bytes) -> None:
    """A NUL byte ends the input for some JSON lexers (nlohmann's among them), which would ignore
    whatever follows; any byte after the value, NUL or not, makes the text malformed."""
    payload = GOOD_PAYLOAD + tail
    token = hs256_token(GOOD_HEADER, payload)
    with pytest.raises(tw.MalformedTokenError):
        hs_verifier().verify(token, now=NOW)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json(_OCT_JWK.encode() + b"1}" + tail)
    header_token = hs256_token(GOOD_HEADER + tail, GOOD_PAYLOAD)
    with pytest.raises(tw.MalformedTokenError):
        hs_verifier().verify(header_token, now=NOW)
    assert hs_verifier().verify(hs256_token(GOOD_HEADER, GOOD_PAYLOAD + b" \n"), now=NOW) == CLAIMS


# --------------------------------------------------------------------------------------------
# non-canonical base64url


def _canonical_parts() -> tuple[str, str, str]:
    """Segments that each contain '-' or '_' and each have a length that is not 0 mod 4."""
    for nonce in range(10_000):
        header = b64e(dumps({"alg": "HS256", "typ": "JWT", "n": nonce, "x": "~~~???>>>"}))
        payload = b64e(dumps({**CLAIMS, "n": nonce, "note": "~~~???"}))
        signature = hs256(f"{header}.{payload}")
        parts = (header, payload, signature)
        if all(any(c in p for c in "-_") and len(p) % 4 in (2, 3) for p in parts):
            return parts
    raise AssertionError("no suitable nonce")


def _non_canonical(segment: str, how: str) -> str:
    if how == "padding":
        return segment + "=" * (-len(segment) % 4)
    if how == "std-alphabet":
        return segment.replace("-", "+").replace("_", "/")
    if how == "trailing-bits":
        last = ALPHABET.index(segment[-1])
        return segment[:-1] + ALPHABET[last | 1]
    if how == "space":
        return segment[:5] + " " + segment[5:]
    if how == "newline":
        return segment[:5] + "\n" + segment[5:]
    if how == "trailing-newline":
        return segment + "\n"
    if how == "leading-space":
        return " " + segment
    if how == "tab":
        return segment[:5] + "\t" + segment[5:]
    if how == "crlf":
        return segment[:5] + "\r\n" + segment[5:]
    raise AssertionError(how)


NON_CANONICAL = [
    "padding",
    "std-alphabet",
    "trailing-bits",
    "space",
    "newline",
    "trailing-newline",
    "leading-space",
    "tab",
    "crlf",
]


@pytest.mark.parametrize("segment", ["header", "payload", "signature"])
@pytest.mark.parametrize("how", NON_CANONICAL)
def test_non_canonical_base64url(segment: str, how: str) -> None:
    """Lax base64url decoding (token malleability; cf. CVE-2022-39227 in python-jwt).

    A lenient decoder maps many strings to the same bytes, so a token can be altered without
    invalidating its signature, and two components can disagree about what was signed. Padding,
    the standard alphabet, non-zero trailing bits and whitespace are refused in every segment,
    even when the signature over the literal text is valid.
    """
    header, payload, signature = _canonical_parts()
    verifier = hs_verifier()
    assert verifier.verify(f"{header}.{payload}.{signature}", now=NOW)["sub"] == "alice"

    if segment == "header":
        token = resign(_non_canonical(header, how), payload)
    elif segment == "payload":
        token = resign(header, _non_canonical(payload, how))
    else:
        token = f"{header}.{payload}.{_non_canonical(signature, how)}"
    original = {"header": header, "payload": payload, "signature": signature}[segment]
    changed = token.split(".")[("header", "payload", "signature").index(segment)]
    assert changed != original
    # a lenient decoder finds the same bytes: the change is only in the encoding
    assert lenient_b64decode(changed) == b64d(original)
    with pytest.raises(tw.MalformedTokenError):
        verifier.verify(token, now=NOW)


# --------------------------------------------------------------------------------------------
# embedded keys


@pytest.fixture(scope="module")
def attacker() -> tuple[tw.JWK, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert = _self_signed_cert(private).public_bytes(serialization.Encoding.DER)
    return tw.JWK.from_pem(pem, "ES256"), base64.b64encode(cert).decode()


@pytest.mark.parametrize("headers", ["jwk", "jku", "x5u", "x5c", "all"])
@pytest.mark.parametrize("kid", ["attacker", "victim", "none"])
def test_embedded_jwk_not_trusted(
    headers: str, kid: str, attacker: tuple[tw.JWK, str], ec_keys: dict[str, tw.JWK]
) -> None:
    """Embedded-key trust: CVE-2018-0114 (node-jose "jwk" header); jku/x5u/x5c key injection.

    The attacker signs with their own key and ships it (or a URL to it) in "jwk", "jku", "x5u"
    or "x5c". The verifier uses only its configured key, so the token is refused.
    """
    victim = ec_keys["ES256"]
    attacker_key, cert_b64 = attacker
    public_jwk = attacker_key.public().to_dict()
    extra: dict[str, Any] = {
        "jwk": public_jwk,
        "jku": "https://attacker.example/.well-known/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": [cert_b64],
    }
    chosen = extra if headers == "all" else {headers: extra[headers]}
    if kid == "attacker":
        chosen = {**chosen, "kid": attacker_key.thumbprint()}
        public_jwk["kid"] = attacker_key.thumbprint()
    elif kid == "victim":
        chosen = {**chosen, "kid": victim.kid}
        public_jwk["kid"] = victim.kid
    token = tw.encode(CLAIMS, attacker_key, headers=chosen)
    assert tw.unverified_header(token)[headers if headers != "all" else "jwk"]

    with pytest.raises(tw.InvalidSignatureError):
        tw.Verifier(victim.public(), algorithms=["ES256"]).verify(token, now=NOW)

    in_set = tw.Verifier(tw.JWKSet([victim.public()]), algorithms=["ES256"])
    if kid == "attacker":
        with pytest.raises(tw.KeyNotFoundError):
            in_set.verify(token, now=NOW)
    else:
        with pytest.raises(tw.InvalidSignatureError):
            in_set.verify(token, now=NOW)


# --------------------------------------------------------------------------------------------
# JWS JSON serialization


def test_jws_json_serialization_rejected(hs_key: tw.JWK) -> None:
    """CVE-2022-39227 (python-jwt, mixed compact/JSON forms) class: JSON serialization accepted.

    Only the compact serialization is a JWT. Flattened and general JWS JSON serializations
    (RFC 7515 §7.2), even with a valid signature inside, are malformed input.
    """
    token = tw.encode(CLAIMS, hs_key)
    header, payload, signature = token.split(".")
    flattened = json.dumps({"protected": header, "payload": payload, "signature": signature})
    general = json.dumps(
        {"payload": payload, "signatures": [{"protected": header, "signature": signature}]}
    )
    with_unprotected = json.dumps(
        {
            "protected": header,
            "header": {"kid": "x"},
            "payload": payload,
            "signature": signature,
        }
    )
    # python-jwt CVE-2022-39227: a compact token smuggled inside JSON
    smuggled = json.dumps({f"{header}.{payload}": "", "protected": header, "signature": signature})
    verifier = tw.Verifier(hs_key, algorithms=["HS256"])
    assert verifier.verify(token, now=NOW) == CLAIMS
    for text in (flattened, general, with_unprotected, smuggled, " " + flattened, "\n" + general):
        for value in (text, text.encode()):
            with pytest.raises(tw.MalformedTokenError):
                verifier.verify(value, now=NOW)
            with pytest.raises(tw.MalformedTokenError):
                verifier.verify_signature(value)


# --------------------------------------------------------------------------------------------
# size and nesting


def _nested(kind: str, depth: int) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_oversized_and_deeply_nested_tokens(hs_key: tw.JWK) -> None:
    """Resource exhaustion class (CWE-400, CWE-674; cf. go-jose CVE-2024-28180 for the
    compressed variant): unbounded token size and JSON nesting.

    A 10 MB token and headers or payloads nested 10,000 levels deep are malformed, and are
    refused before they can cost much (no timing assertion here: the inputs are just cheap).
    """
    token = tw.encode(CLAIMS, hs_key)
    header, _, signature = token.split(".")
    huge = f"{header}.{'A' * (10 * 1024 * 1024)}.{signature}"
    verifier = tw.Verifier(hs_key, algorithms=["HS256"])
    for value in (huge, huge.encode()):
        with pytest.raises(tw.MalformedTokenError):
            verifier.verify(value, now=NOW)
        with pytest.raises(tw.MalformedTokenError):
            verifier.verify_signature(value)
        with pytest.raises(tw.MalformedTokenError):
            tw.unverified_header(value)
        with pytest.raises(tw.MalformedTokenError):
            tw.unverified_claims(value)
    # under a larger size limit, a correctly signed 10 MB payload of NUL bytes is still no JSON
    signed_huge = resign(header, "A" * (10 * 1024 * 1024))
    with pytest.raises(tw.MalformedTokenError):
        tw.Verifier(hs_key, algorithms=["HS256"], max_token_size=16 << 20).verify(
            signed_huge, now=NOW
        )

    roomy = tw.Verifier(hs_key, algorithms=["HS256"], max_token_size=1 << 20)
    for kind in ("array", "object"):
        for depth in (10_000, 1_000):
            deep = _nested(kind, depth)
            in_payload = hs256_token(GOOD_HEADER, b'{"sub":"alice","x":' + deep + b"}")
            in_header = hs256_token(b'{"alg":"HS256","x":' + deep + b"}", GOOD_PAYLOAD)
            payload_is_claims = hs256_token(GOOD_HEADER, deep)
            for bad in (in_payload, in_header, payload_is_claims):
                with pytest.raises(tw.MalformedTokenError):
                    roomy.verify(bad, now=NOW)
                with pytest.raises(tw.MalformedTokenError):
                    tw.unverified_claims(bad)
            with pytest.raises(tw.MalformedTokenError):
                roomy.verify_signature(in_header)
            with pytest.raises(tw.MalformedTokenError):
                tw.unverified_header(in_header)


# --------------------------------------------------------------------------------------------
# algorithm policy


def test_algorithm_not_in_allow_list() -> None:
    """Algorithm-choice class (CVE-2016-10555 relatives): the token chooses the algorithm."""
    key = tw.JWK.from_secret(SECRET + SECRET)
    token = tw.encode(CLAIMS, key, algorithm="HS384")
    assert tw.Verifier(key, algorithms=["HS384"]).verify(token, now=NOW) == CLAIMS
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(key, algorithms=["HS256"]).verify(token, now=NOW)
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(key, algorithms=["HS256", "HS512"]).verify(token, now=NOW)

    rsa_key = tw.JWK.generate("RS256")
    plain = tw.JWK.from_json({k: v for k, v in rsa_key.to_dict(private=True).items() if k != "alg"})
    rs = tw.encode(CLAIMS, plain, algorithm="RS256")
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(plain.public(), algorithms=["PS256"]).verify(rs, now=NOW)


@pytest.mark.parametrize("alg", ["HS1024", "RS1", "ES256K", "HS256 ", "hs256", "", "EdDSA25519"])
def test_unknown_algorithm_in_token(alg: str) -> None:
    """Unknown and mis-spelled alg values are unsupported, never mapped to a near match."""
    signing_input = f"{b64e(dumps({'alg': alg}))}.{b64e(GOOD_PAYLOAD)}"
    token = f"{signing_input}.{hs256(signing_input)}"
    with pytest.raises(tw.UnsupportedAlgorithmError):
        hs_verifier().verify(token, now=NOW)


def test_algorithm_must_fit_the_key(ec_keys: dict[str, tw.JWK]) -> None:
    """Key/algorithm confusion class (CVE-2015-9235 relatives): an alg that does not fit the
    key's type, curve or own "alg" is refused, whatever the allow-list."""
    es256, es384 = ec_keys["ES256"], ec_keys["ES384"]
    token = tw.encode(CLAIMS, es256)
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(es384.public(), algorithms=["ES256", "ES384"]).verify(token, now=NOW)
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(es384.public(), algorithms=["ES256"])

    # an ES256 token whose kid names the ES384 key of a set
    forged = tw.encode(CLAIMS, es256, headers={"kid": es384.kid})
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(tw.JWKSet([es384.public()]), algorithms=["ES256", "ES384"]).verify(
            forged, now=NOW
        )

    rsa_key = tw.JWK.generate("PS256")
    pss_only = rsa_key.public()
    assert pss_only.algorithm == "PS256"
    plain = tw.JWK.from_json({k: v for k, v in rsa_key.to_dict(private=True).items() if k != "alg"})
    rs256 = tw.encode(CLAIMS, plain, algorithm="RS256")
    ps256 = tw.encode(CLAIMS, plain, algorithm="PS256")
    verifier = tw.Verifier(pss_only, algorithms=["RS256", "PS256"])
    assert verifier.verify(ps256, now=NOW) == CLAIMS
    with pytest.raises(tw.UnsupportedAlgorithmError):
        verifier.verify(rs256, now=NOW)


def test_kid_pointing_at_missing_key(ec_keys: dict[str, tw.JWK]) -> None:
    """Key-selection class: an unknown kid never falls back to some other key."""
    key = ec_keys["ES256"]
    keys = tw.JWKSet([key.public()])
    for kid in ("missing", "", key.kid + " ", key.kid.upper(), "../" + key.kid):
        token = tw.encode(CLAIMS, key, headers={"kid": kid})
        with pytest.raises(tw.KeyNotFoundError):
            tw.Verifier(keys, algorithms=["ES256"]).verify(token, now=NOW)


# --------------------------------------------------------------------------------------------
# structure


def test_wrong_number_of_segments(hs_key: tw.JWK) -> None:
    """Compact-form confusion class (JWE vs JWS, truncated tokens): exactly three segments."""
    token = tw.encode(CLAIMS, hs_key)
    header, payload, signature = token.split(".")
    verifier = tw.Verifier(hs_key, algorithms=["HS256"])
    for bad in (
        "",
        ".",
        "..",
        "...",
        header,
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}.",
        f"{header}.{payload}.{signature}.{signature}",
        f"{header}.{payload}.{signature}..",
        f"{header}..{payload}.{signature}",
        f"{header}.{payload}.{signature}.{payload}.{signature}",  # JWE-shaped
        f".{header}.{payload}.{signature}",
    ):
        with pytest.raises(tw.MalformedTokenError):
            verifier.verify(bad, now=NOW)


def test_empty_signature(hs_key: tw.JWK, ec_keys: dict[str, tw.JWK]) -> None:
    """Signature-stripping class (CWE-347): an empty signature never verifies."""
    for key, alg in ((hs_key, "HS256"), (ec_keys["ES256"], "ES256")):
        token = tw.encode(CLAIMS, key)
        stripped = token.rsplit(".", 1)[0] + "."
        verifying = key if key.key_type == "oct" else key.public()
        with pytest.raises(tw.MalformedTokenError):
            tw.Verifier(verifying, algorithms=[alg]).verify(stripped, now=NOW)


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ecdsa_der_and_wrong_length_signatures(alg: str, ec_keys: dict[str, tw.JWK]) -> None:
    """ECDSA signature-format confusion (RFC 7518 §3.4; CVE-2022-21449 neighbourhood).

    JWS ECDSA signatures are fixed-length R||S. The DER form of the very same (valid) signature,
    or an R||S that is one byte short or long, does not verify.
    """
    key = ec_keys[alg]
    size = SCALAR_SIZES[alg]
    token = tw.encode(CLAIMS, key)
    verifier = tw.Verifier(key.public(), algorithms=[alg])
    raw = b64d(token.split(".")[2])
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    der = encode_dss_signature(r, s)
    assert len(der) != 2 * size
    for bad in (der, raw[:-1], raw + b"\x00", b"\x00" + raw, raw[1:], raw + raw, raw[:size]):
        with pytest.raises(tw.InvalidSignatureError):
            verifier.verify(with_signature(token, bad), now=NOW)


def test_rsa_1024_refused_at_import() -> None:
    """Weak-key class (CWE-326, NIST SP 800-131A): RSA below 2048 bits is refused."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pkcs8 = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spki = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    numbers = private.public_key().public_numbers()
    n_b64 = b64e(numbers.n.to_bytes(128, "big"))
    for pem in (pkcs8, spki):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_pem(pem)
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_pem(pem, "RS256")
    with pytest.raises(tw.InvalidKeyError) as exc:
        tw.JWK.from_json({"kty": "RSA", "n": n_b64, "e": "AQAB"})
    assert n_b64 not in str(exc.value)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.generate("RS256", rsa_bits=1024)
    keys = tw.JWKSet.from_json({"keys": [{"kty": "RSA", "n": n_b64, "e": "AQAB"}]})
    assert len(keys) == 0
    assert len(keys.skipped) == 1


def _roca_like_modulus() -> int:
    """A 2048-bit odd n with n ≡ 1 (mod p) for every prime p < 702: the ROCA fingerprint test
    (n mod p in the subgroup generated by 65537) holds for all of them."""
    primes = [p for p in range(3, 702) if all(p % q for q in range(2, int(p**0.5) + 1))]
    m = 1
    for p in primes:
        m *= p
    n = 1 + (m << (2048 - m.bit_length()))
    assert n.bit_length() == 2048 and n % 2 == 1
    return n


def test_roca_fingerprinted_modulus_refused() -> None:
    """CVE-2017-15361 (ROCA, Infineon RSALib): moduli with the ROCA fingerprint are refused."""
    n = _roca_like_modulus()
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({"kty": "RSA", "n": b64e(n.to_bytes(256, "big")), "e": "AQAB"})


@pytest.mark.parametrize("leeway", [0, 5, 59])
def test_expired_token(leeway: int, hs_key: tw.JWK) -> None:
    """Replay-window class: an expired token is refused unless still within the leeway."""
    token = tw.encode({"sub": "alice", "exp": NOW - 60}, hs_key)
    with pytest.raises(tw.ExpiredTokenError):
        tw.Verifier(hs_key, algorithms=["HS256"], leeway=leeway).verify(token, now=NOW)
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(tw.encode({"sub": "a", "exp": 1}, hs_key), hs_key, algorithms=["HS256"])
    allowed = tw.Verifier(hs_key, algorithms=["HS256"], leeway=61)
    assert allowed.verify(token, now=NOW)["sub"] == "alice"
    with pytest.raises(tw.ExpiredTokenError):
        tw.Verifier(hs_key, algorithms=["HS256"], leeway=60).verify(token, now=NOW)


# --------------------------------------------------------------------------------------------
# no secrets in messages


def test_error_messages_do_not_echo_secrets(rsa_public_pem: bytes) -> None:
    """CWE-209 class: error messages must not carry key material back to a caller or a log."""
    short = b"short-secret-QWERTY"
    with pytest.raises(tw.InvalidKeyError) as exc:
        tw.JWK.from_secret(short, "HS256")
    assert "QWERTY" not in str(exc.value)
    with pytest.raises(tw.InvalidKeyError) as exc:
        tw.JWK.from_json({"kty": "oct", "k": b64e(short), "alg": "HS256"})
    assert b64e(short) not in str(exc.value) and "QWERTY" not in str(exc.value)

    body = "".join(rsa_public_pem.decode().splitlines()[1:-1])
    with pytest.raises(tw.InvalidKeyError) as exc:
        tw.JWK.from_secret(rsa_public_pem)
    assert body[:40] not in str(exc.value)

    ec_key = tw.JWK.generate("ES256").to_dict(private=True)
    other = tw.JWK.generate("ES256").to_dict(private=True)
    mismatched = {**ec_key, "d": other["d"]}
    with pytest.raises(tw.InvalidKeyError) as exc:
        tw.JWK.from_json(mismatched)
    assert other["d"] not in str(exc.value) and ec_key["x"] not in str(exc.value)

    key = tw.JWK.from_secret(SECRET)
    wrong = tw.encode(
        CLAIMS, tw.JWK.from_secret(b"another-secret-of-sufficient-length!!"), algorithm="HS256"
    )
    with pytest.raises(tw.InvalidSignatureError) as sig_exc:
        tw.Verifier(key, algorithms=["HS256"]).verify(wrong, now=NOW)
    assert SECRET.decode() not in str(sig_exc.value)
    assert "another-secret" not in str(sig_exc.value)


def test_member_names_alike_but_not_the_same_are_not_duplicates() -> None:
    """The duplicate check's other side: names sharing a length and a long prefix, or differing
    in their last byte only, are distinct members and all reach the claims."""
    claims = {
        "abcdefgh": 1,
        "abcdefgX": 2,
        "abcdefg": 3,
        "abcdefghi": 4,
        "cognito:groups": ["a"],
        "cognito:groupz": ["b"],
        **CLAIMS,
    }
    token = hs256_token(GOOD_HEADER, dumps(claims))
    assert hs_verifier().verify(token, now=NOW) == claims


def test_remembered_header_never_vouches_for_another() -> None:
    """Caching class: the verifier remembers the last header it parsed (per thread, by its exact
    bytes), so a header seen just before must decide nothing for a token whose header differs in
    any byte, nor lend its checks to a bad signature under the same bytes."""
    other_secret = b"another-hmac-secret-of-sufficient-length-0123456789"
    keys = tw.JWKSet(
        [
            tw.JWK.from_json({"kty": "oct", "k": b64e(SECRET), "kid": "k1", "alg": "HS256"}),
            tw.JWK.from_json({"kty": "oct", "k": b64e(other_secret), "kid": "k2", "alg": "HS256"}),
        ]
    )
    verifier = tw.Verifier(keys, algorithms=["HS256"], typ="JWT")
    header = {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    good = hs256_token(header, CLAIMS)
    assert verifier.verify(good, now=NOW) == CLAIMS

    def after_good(token: str, error: type[Exception]) -> None:
        assert verifier.verify(good, now=NOW) == CLAIMS  # the memo now holds the good header
        with pytest.raises(error):
            verifier.verify(token, now=NOW)

    head, payload, signature = good.split(".")
    # The same header bytes vouch for nothing else: a forged signature, another payload.
    after_good(with_signature(good, b"\0" * 32), tw.InvalidSignatureError)
    after_good(
        f"{head}.{b64e(dumps({**CLAIMS, 'sub': 'mallory'}))}.{signature}", tw.InvalidSignatureError
    )
    # One byte more or less than the remembered segment is another header, parsed on its own.
    after_good(resign(head + "A", payload), tw.MalformedTokenError)
    after_good(resign(head[:-1], payload), tw.MalformedTokenError)
    # Headers that differ in a member are checked as themselves.
    after_good(hs256_token({**header, "alg": "none"}, CLAIMS), tw.UnsupportedAlgorithmError)
    after_good(hs256_token({"alg": "HS256", "kid": "k1"}, CLAIMS), tw.InvalidClaimError)  # no typ
    after_good(hs256_token({**header, "typ": "at+jwt"}, CLAIMS), tw.InvalidClaimError)
    after_good(hs256_token({**header, "kid": "k3"}, CLAIMS), tw.KeyNotFoundError)
    after_good(hs256_token({**header, "crit": ["exp"]}, CLAIMS), tw.MalformedTokenError)
    # kid k2 names the other key: a token signed with the first secret fails under it...
    after_good(hs256_token({**header, "kid": "k2"}, CLAIMS), tw.InvalidSignatureError)
    # ...and one signed with the second passes, right after the first key's header.
    k2_input = f"{b64e(dumps({**header, 'kid': 'k2'}))}.{payload}"
    k2_token = f"{k2_input}.{hs256(k2_input, other_secret)}"
    assert verifier.verify(k2_token, now=NOW) == CLAIMS
    # A header that failed is not remembered as good: the same bytes fail again.
    bad = hs256_token({**header, "alg": "none"}, CLAIMS)
    for _ in range(2):
        with pytest.raises(tw.UnsupportedAlgorithmError):
            verifier.verify(bad, now=NOW)
    # A verifier with other rules reads the same remembered header by its own rules.
    assert verifier.verify(good, now=NOW) == CLAIMS
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(keys, algorithms=["HS384"]).verify(good, now=NOW)
    assert hs_verifier().verify(good, now=NOW) == CLAIMS  # a single key: kid not matched
