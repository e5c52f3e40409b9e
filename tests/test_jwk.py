"""tokenward.JWK: generation, JSON and PEM import/export, thumbprints, properties, validation."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

import tokenward as tw

NOW = 1_700_000_000
CLAIMS = {"sub": "alice", "exp": NOW + 60}

# RFC 7638 §3.1: the example RSA key and its thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
# RFC 8037 A.1-A.3: an Ed25519 key and its thumbprint.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

# P-256 field prime, for building points that are not on the curve.
P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1

EXPECTED = {
    "HS256": ("oct", None),
    "HS384": ("oct", None),
    "HS512": ("oct", None),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519"),
}


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def int_b64(value: int, size: int | None = None) -> str:
    size = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return b64e(value.to_bytes(size, "big"))


def rfc7638(members: dict[str, Any]) -> str:
    """RFC 7638 thumbprint computed independently of tokenward."""
    required = {
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
        "oct": ("k", "kty"),
    }[members["kty"]]
    text = json.dumps({m: members[m] for m in required}, separators=(",", ":"), sort_keys=True)
    return b64e(hashlib.sha256(text.encode()).digest())


def pem_private(key: Any, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def pem_public(key: Any, fmt: serialization.PublicFormat) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt)


def certificate_pem(key: Any) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokenward.test")])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        .sign(key, algorithm)
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def assert_signs_and_verifies(private: tw.JWK, public: tw.JWK, alg: str) -> None:
    token = tw.encode(CLAIMS, private, algorithm=None if private.algorithm else alg)
    assert tw.Verifier(public, algorithms=[alg]).verify(token, now=NOW) == CLAIMS


@pytest.fixture(scope="module")
def rsa_crypto() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_crypto() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ed_crypto() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def generated() -> dict[str, tw.JWK]:
    return {alg: tw.JWK.generate(alg) for alg in tw.ALGORITHMS}


# --------------------------------------------------------------------------------------------
# generate


@pytest.mark.parametrize("alg", tw.ALGORITHMS)
def test_generate(alg: str, generated: dict[str, tw.JWK]) -> None:
    key = generated[alg]
    kty, crv = EXPECTED[alg]
    assert key.key_type == kty
    assert key.curve == crv
    assert key.algorithm == alg
    assert key.is_private
    assert key.kid == key.thumbprint()
    assert key.use is None
    assert key.key_ops is None
    if kty == "oct":
        assert len(b64d(key.to_dict(private=True)["k"])) == {"HS256": 32, "HS384": 48}.get(alg, 64)
        assert_signs_and_verifies(key, key, alg)
    else:
        assert_signs_and_verifies(key, key.public(), alg)
    if kty == "RSA":
        assert len(b64d(key.to_dict()["n"])) == 256
    assert tw.JWK.generate(alg).thumbprint() != key.thumbprint()


def test_generate_rsa_bits() -> None:
    key = tw.JWK.generate("RS256", rsa_bits=3072)
    assert len(b64d(key.to_dict()["n"])) == 384
    for bits in (1024, 2047, 0, -1):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.generate("PS256", rsa_bits=bits)


@pytest.mark.parametrize("alg", ["none", "None", "HS1", "RSA-OAEP", "A128GCM", "", "es256"])
def test_generate_unknown_algorithm(alg: str) -> None:
    with pytest.raises(tw.ConfigurationError):
        tw.JWK.generate(alg)


# --------------------------------------------------------------------------------------------
# JSON round trips


@pytest.mark.parametrize("alg", tw.ALGORITHMS)
def test_json_round_trip(alg: str, generated: dict[str, tw.JWK]) -> None:
    key = generated[alg]
    private_text = key.to_json(private=True)
    assert isinstance(private_text, str)
    assert json.loads(private_text) == key.to_dict(private=True)
    for data in (private_text, private_text.encode(), json.loads(private_text)):
        again = tw.JWK.from_json(data)
        assert again.is_private
        assert again.thumbprint() == key.thumbprint()
        assert again.kid == key.kid
        assert again.algorithm == alg
        assert again.to_dict(private=True) == key.to_dict(private=True)
        assert_signs_and_verifies(again, key if alg.startswith("HS") else key.public(), alg)

    if alg.startswith("HS"):
        with pytest.raises(tw.InvalidKeyError):
            key.public()
        with pytest.raises(tw.InvalidKeyError):
            key.to_json()
        return

    public_text = key.to_json()
    public_dict = json.loads(public_text)
    assert public_dict == key.to_dict() == key.public().to_dict()
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(public_dict)
    public = tw.JWK.from_json(public_text)
    assert not public.is_private
    assert public.thumbprint() == key.thumbprint()
    assert public.kid == key.kid
    assert public.algorithm == alg
    assert rfc7638(public_dict) == key.thumbprint()
    assert public.to_json(private=True) == public_text
    with pytest.raises(tw.InvalidKeyError):
        tw.encode(CLAIMS, public)


def test_private_members_only_when_asked(generated: dict[str, tw.JWK]) -> None:
    rsa_dict = generated["RS256"].to_dict(private=True)
    assert {"d", "p", "q", "dp", "dq", "qi"} <= set(rsa_dict)
    assert "d" in generated["ES256"].to_dict(private=True)
    assert "d" in generated["EdDSA"].to_dict(private=True)
    for alg in ("RS256", "ES256", "EdDSA"):
        assert "d" not in generated[alg].to_dict()
        assert "d" not in json.loads(generated[alg].to_json())


def test_rsa_private_without_crt_members(generated: dict[str, tw.JWK]) -> None:
    """RFC 7518 §6.3.2: p, q, dp, dq, qi are optional, but all or none."""
    full = generated["RS256"].to_dict(private=True)
    minimal = {m: full[m] for m in ("kty", "n", "e", "d", "alg")}
    key = tw.JWK.from_json(minimal)
    assert key.is_private
    assert_signs_and_verifies(key, generated["RS256"].public(), "RS256")
    partial = {**minimal, "p": full["p"], "q": full["q"]}
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json(partial)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({**full, "oth": [{"r": full["p"], "d": full["dp"], "t": full["qi"]}]})


def test_rsa_inconsistent_crt_refused(generated: dict[str, tw.JWK]) -> None:
    full = generated["RS256"].to_dict(private=True)
    other = tw.JWK.generate("RS256").to_dict(private=True)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({**full, "p": other["p"], "q": other["q"]})


# --------------------------------------------------------------------------------------------
# PEM import


def test_from_pem_rsa_formats(rsa_crypto: rsa.RSAPrivateKey) -> None:
    pkcs8 = pem_private(rsa_crypto, serialization.PrivateFormat.PKCS8)
    pkcs1 = pem_private(rsa_crypto, serialization.PrivateFormat.TraditionalOpenSSL)
    spki = pem_public(rsa_crypto, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1_public = pem_public(rsa_crypto, serialization.PublicFormat.PKCS1)
    assert b"BEGIN PRIVATE KEY" in pkcs8
    assert b"BEGIN RSA PRIVATE KEY" in pkcs1
    assert b"BEGIN PUBLIC KEY" in spki
    assert b"BEGIN RSA PUBLIC KEY" in pkcs1_public

    numbers = rsa_crypto.private_numbers()
    expected = rfc7638({"kty": "RSA", "n": int_b64(numbers.public_numbers.n), "e": int_b64(65537)})
    privates = [tw.JWK.from_pem(pkcs8), tw.JWK.from_pem(pkcs1.decode())]
    publics = [
        tw.JWK.from_pem(spki),
        tw.JWK.from_pem(pkcs1_public.decode()),
        tw.JWK.from_pem(certificate_pem(rsa_crypto)),
    ]
    for key in privates + publics:
        assert key.key_type == "RSA"
        assert key.curve is None
        assert key.algorithm is None
        assert key.kid is None
        assert key.thumbprint() == expected
    assert all(k.is_private for k in privates)
    assert not any(k.is_private for k in publics)
    d = privates[1].to_dict(private=True)
    assert d["d"] == int_b64(numbers.d)
    assert d["p"] in (int_b64(numbers.p), int_b64(numbers.q))
    for alg in ("RS256", "PS384"):
        assert_signs_and_verifies(privates[0], publics[0], alg)
        assert_signs_and_verifies(privates[1], publics[2], alg)


def test_from_pem_ec_formats(ec_crypto: ec.EllipticCurvePrivateKey) -> None:
    pkcs8 = pem_private(ec_crypto, serialization.PrivateFormat.PKCS8)
    sec1 = pem_private(ec_crypto, serialization.PrivateFormat.TraditionalOpenSSL)
    spki = pem_public(ec_crypto, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert b"BEGIN EC PRIVATE KEY" in sec1

    pub = ec_crypto.public_key().public_numbers()
    expected_members = {
        "kty": "EC",
        "crv": "P-256",
        "x": int_b64(pub.x, 32),
        "y": int_b64(pub.y, 32),
    }
    keys = [
        tw.JWK.from_pem(pkcs8),
        tw.JWK.from_pem(sec1),
        tw.JWK.from_pem(spki),
        tw.JWK.from_pem(certificate_pem(ec_crypto).decode()),
        tw.JWK.from_pem(spki, "ES256"),
    ]
    for key in keys:
        assert key.key_type == "EC"
        assert key.curve == "P-256"
        assert key.thumbprint() == rfc7638(expected_members)
        assert {k: key.to_dict()[k] for k in expected_members} == expected_members
    assert keys[0].is_private and keys[1].is_private
    assert not keys[2].is_private and not keys[3].is_private
    assert keys[4].algorithm == "ES256"
    assert keys[1].to_dict(private=True)["d"] == int_b64(
        ec_crypto.private_numbers().private_value, 32
    )
    assert_signs_and_verifies(keys[1], keys[3], "ES256")


@pytest.mark.parametrize(
    ("curve", "alg", "name", "size"),
    [
        (ec.SECP384R1(), "ES384", "P-384", 48),
        (ec.SECP521R1(), "ES512", "P-521", 66),
    ],
)
def test_from_pem_ec_other_curves(curve: ec.EllipticCurve, alg: str, name: str, size: int) -> None:
    private = ec.generate_private_key(curve)
    key = tw.JWK.from_pem(pem_private(private, serialization.PrivateFormat.TraditionalOpenSSL))
    assert key.curve == name
    d = key.to_dict(private=True)
    assert len(b64d(d["x"])) == len(b64d(d["y"])) == len(b64d(d["d"])) == size
    public = tw.JWK.from_pem(pem_public(private, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert_signs_and_verifies(key, public, alg)


def test_from_pem_ed25519(ed_crypto: ed25519.Ed25519PrivateKey) -> None:
    pkcs8 = pem_private(ed_crypto, serialization.PrivateFormat.PKCS8)
    spki = pem_public(ed_crypto, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = ed_crypto.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    expected = rfc7638({"kty": "OKP", "crv": "Ed25519", "x": b64e(raw)})
    keys = [
        tw.JWK.from_pem(pkcs8),
        tw.JWK.from_pem(spki),
        tw.JWK.from_pem(certificate_pem(ed_crypto)),
    ]
    for key in keys:
        assert key.key_type == "OKP"
        assert key.curve == "Ed25519"
        assert key.thumbprint() == expected
    assert keys[0].is_private and not keys[1].is_private
    assert_signs_and_verifies(keys[0], keys[2], "EdDSA")


def test_from_pem_with_algorithm(
    rsa_crypto: rsa.RSAPrivateKey, ec_crypto: ec.EllipticCurvePrivateKey
) -> None:
    rsa_pem = pem_private(rsa_crypto, serialization.PrivateFormat.PKCS8)
    ec_pem = pem_public(ec_crypto, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert tw.JWK.from_pem(rsa_pem, "PS512").algorithm == "PS512"
    assert tw.JWK.from_pem(rsa_pem, algorithm="RS384").algorithm == "RS384"
    for alg in ("ES256", "EdDSA", "HS256"):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_pem(rsa_pem, alg)
    for alg in ("ES384", "ES512", "RS256", "PS256", "EdDSA", "HS256"):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_pem(ec_pem, alg)
    with pytest.raises(tw.ConfigurationError):
        tw.JWK.from_pem(ec_pem, "none")


def test_from_pem_encrypted_refused(
    rsa_crypto: rsa.RSAPrivateKey, ec_crypto: ec.EllipticCurvePrivateKey
) -> None:
    password = b"correct horse battery staple"
    for key, fmt in (
        (rsa_crypto, serialization.PrivateFormat.PKCS8),
        (rsa_crypto, serialization.PrivateFormat.TraditionalOpenSSL),
        (ec_crypto, serialization.PrivateFormat.PKCS8),
        (ec_crypto, serialization.PrivateFormat.TraditionalOpenSSL),
    ):
        pem = key.private_bytes(
            serialization.Encoding.PEM, fmt, serialization.BestAvailableEncryption(password)
        )
        assert b"ENCRYPTED" in pem
        with pytest.raises(tw.InvalidKeyError) as exc:
            tw.JWK.from_pem(pem)
        assert "correct horse" not in str(exc.value)


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"not a pem",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
    ],
)
def test_from_pem_garbage(text: bytes) -> None:
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_pem(text)


def test_from_pem_unsupported_key_types() -> None:
    k1 = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_pem(pem_private(k1, serialization.PrivateFormat.PKCS8))
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_pem(pem_public(k1, serialization.PublicFormat.SubjectPublicKeyInfo))


def test_from_pem_rsa_1024_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_pem(pem_private(weak, serialization.PrivateFormat.PKCS8))
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_pem(certificate_pem(weak))


# --------------------------------------------------------------------------------------------
# thumbprints


def test_thumbprint_rfc7638_example() -> None:
    key = tw.JWK.from_json({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256"})
    assert key.thumbprint() == RFC7638_THUMBPRINT
    # kid, alg and member order do not enter the thumbprint
    again = tw.JWK.from_json(
        '{"kid":"2011-04-29","e":"AQAB","n":"' + RFC7638_N + '","kty":"RSA","use":"sig"}'
    )
    assert again.thumbprint() == RFC7638_THUMBPRINT
    assert again.kid == "2011-04-29"


def test_thumbprint_rfc8037_example() -> None:
    private = tw.JWK.from_json({"kty": "OKP", "crv": "Ed25519", "d": RFC8037_D, "x": RFC8037_X})
    public = tw.JWK.from_json({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X})
    assert private.thumbprint() == public.thumbprint() == RFC8037_THUMBPRINT
    assert private.public().to_dict()["x"] == RFC8037_X


def test_thumbprint_oct() -> None:
    secret = b"an-hmac-secret-that-is-long-enough-for-hs256"
    key = tw.JWK.from_secret(secret)
    assert key.thumbprint() == rfc7638({"kty": "oct", "k": b64e(secret)})
    assert tw.JWK.from_json({"kty": "oct", "k": b64e(secret)}).thumbprint() == key.thumbprint()
    assert tw.JWK.from_secret(secret.decode()).thumbprint() == key.thumbprint()


def test_thumbprint_stable_across_import_paths(rsa_crypto: rsa.RSAPrivateKey) -> None:
    numbers = rsa_crypto.private_numbers()
    pub = numbers.public_numbers
    by_hand = {
        "kty": "RSA",
        "n": int_b64(pub.n),
        "e": int_b64(pub.e),
        "d": int_b64(numbers.d),
        "p": int_b64(numbers.p),
        "q": int_b64(numbers.q),
        "dp": int_b64(numbers.dmp1),
        "dq": int_b64(numbers.dmq1),
        "qi": int_b64(numbers.iqmp),
    }
    keys = [
        tw.JWK.from_json(by_hand),
        tw.JWK.from_json({"kty": "RSA", "n": by_hand["n"], "e": by_hand["e"], "kid": "x"}),
        tw.JWK.from_pem(pem_private(rsa_crypto, serialization.PrivateFormat.PKCS8)),
        tw.JWK.from_pem(pem_private(rsa_crypto, serialization.PrivateFormat.TraditionalOpenSSL)),
        tw.JWK.from_pem(pem_public(rsa_crypto, serialization.PublicFormat.SubjectPublicKeyInfo)),
        tw.JWK.from_pem(pem_public(rsa_crypto, serialization.PublicFormat.PKCS1)),
        tw.JWK.from_pem(certificate_pem(rsa_crypto)),
        tw.JWK.from_pem(pem_private(rsa_crypto, serialization.PrivateFormat.PKCS8), "RS512"),
    ]
    keys.append(keys[0].public())
    keys.append(tw.JWK.from_json(keys[2].to_json(private=True)))
    thumbprints = {k.thumbprint() for k in keys}
    assert thumbprints == {rfc7638(by_hand)}


# --------------------------------------------------------------------------------------------
# properties


def test_properties_from_json(generated: dict[str, tw.JWK]) -> None:
    members = {
        **generated["ES256"].public().to_dict(),
        "kid": "key-1",
        "use": "sig",
        "key_ops": ["verify"],
    }
    key = tw.JWK.from_json(members)
    assert key.kid == "key-1"
    assert key.algorithm == "ES256"
    assert key.key_type == "EC"
    assert key.curve == "P-256"
    assert key.is_private is False
    assert key.use == "sig"
    assert key.key_ops == ["verify"]
    out = key.to_dict()
    assert out["use"] == "sig" and out["key_ops"] == ["verify"] and out["kid"] == "key-1"

    bare = tw.JWK.from_json({m: members[m] for m in ("kty", "crv", "x", "y")})
    assert bare.kid is None
    assert bare.algorithm is None
    assert bare.use is None
    assert bare.key_ops is None
    assert not {"kid", "alg", "use", "key_ops"} & set(bare.to_dict())


def test_properties_from_secret() -> None:
    key = tw.JWK.from_secret("a-text-secret-of-at-least-thirty-two-bytes")
    assert key.key_type == "oct"
    assert key.curve is None
    assert key.algorithm is None
    assert key.kid is None
    assert key.is_private is True
    keyed = tw.JWK.from_secret(b"\x00\xff" * 32, "HS512")
    assert keyed.algorithm == "HS512"
    assert b64d(keyed.to_dict(private=True)["k"]) == b"\x00\xff" * 32


def test_from_secret_policy() -> None:
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_secret(b"")
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_secret("")
    for alg, size in (("HS256", 32), ("HS384", 48), ("HS512", 64)):
        tw.JWK.from_secret(b"s" * size, alg)
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_secret(b"s" * (size - 1), alg)
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({"kty": "oct", "k": b64e(b"s" * (size - 1)), "alg": alg})
    for alg in ("RS256", "ES256", "EdDSA", "PS256"):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_secret(b"s" * 64, alg)
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({"kty": "oct", "k": b64e(b"s" * 64), "alg": alg})
    with pytest.raises(tw.ConfigurationError):
        tw.JWK.from_secret(b"s" * 64, "none")
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({"kty": "oct", "k": ""})
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({"kty": "oct"})


def test_short_hmac_key_without_alg_fails_at_use() -> None:
    """Without an "alg" the strength check waits until the key is used with a hash."""
    key = tw.JWK.from_secret(b"s" * 40)
    token = tw.encode(CLAIMS, key, algorithm="HS256")
    assert tw.Verifier(key, algorithms=["HS256"]).verify(token, now=NOW) == CLAIMS
    with pytest.raises(tw.InvalidKeyError):
        tw.encode(CLAIMS, key, algorithm="HS384")
    long_key = tw.JWK.from_secret(b"s" * 48)
    hs384 = tw.encode(CLAIMS, long_key, algorithm="HS384")
    with pytest.raises(tw.InvalidKeyError):
        tw.Verifier(key, algorithms=["HS384"]).verify(hs384, now=NOW)


def test_public_of_oct_key_raises() -> None:
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_secret(b"x" * 32).public()
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.generate("HS512").public()


def test_public_keeps_metadata(generated: dict[str, tw.JWK]) -> None:
    for alg in ("RS256", "ES384", "EdDSA"):
        key = generated[alg]
        public = key.public()
        assert not public.is_private
        assert public.kid == key.kid
        assert public.algorithm == alg
        assert public.curve == key.curve
        assert public.public().to_dict() == public.to_dict()


@pytest.mark.parametrize("alg", tw.ALGORITHMS)
def test_repr_does_not_leak_secrets(alg: str, generated: dict[str, tw.JWK]) -> None:
    key = generated[alg]
    private = key.to_dict(private=True)
    secrets = [private[m] for m in ("k", "d", "p", "q", "dp", "dq", "qi") if m in private]
    assert secrets
    for text in (repr(key), str(key)):
        assert text
        for value in secrets:
            assert value not in text
            assert value[:12] not in text


def test_repr_does_not_leak_raw_secret() -> None:
    raw = "hunter2-hunter2-hunter2-hunter2-hunter2"
    key = tw.JWK.from_secret(raw)
    for text in (repr(key), str(key)):
        assert "hunter2" not in text
        assert b64e(raw.encode())[:12] not in text


# --------------------------------------------------------------------------------------------
# validation of EC, OKP and RSA members


def _p256_public(generated: dict[str, tw.JWK]) -> dict[str, Any]:
    return generated["ES256"].public().to_dict()


def test_ec_point_not_on_curve(generated: dict[str, tw.JWK]) -> None:
    """Invalid-curve attacks (CVE-2017-16007 class): a point off the curve is refused."""
    public = _p256_public(generated)
    y = int.from_bytes(b64d(public["y"]), "big")
    x = int.from_bytes(b64d(public["x"]), "big")
    for bad_x, bad_y in (
        (x, (y + 1) % P256_P),
        ((x + 1) % P256_P, y),
        (0, 0),
        (x, 0),
        (x, P256_P - 1),
        (x, y + P256_P) if y + P256_P < 2**256 else (x, P256_P),  # y not reduced mod p
    ):
        members = {**public, "x": int_b64(bad_x, 32), "y": int_b64(bad_y, 32)}
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json(members)
    private = generated["ES256"].to_dict(private=True)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({**private, "y": int_b64((y + 1) % P256_P, 32)})


def test_ec_private_scalar_must_match_point(generated: dict[str, tw.JWK]) -> None:
    private = generated["ES256"].to_dict(private=True)
    other = tw.JWK.generate("ES256").to_dict(private=True)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({**private, "d": other["d"]})
    for d in (0, 1 << 256):
        size = 33 if d >> 256 else 32
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({**private, "d": int_b64(d, size)})


def test_ec_wrong_coordinate_lengths(generated: dict[str, tw.JWK]) -> None:
    public = _p256_public(generated)
    private = generated["ES256"].to_dict(private=True)
    x, y, d = (b64d(public["x"]), b64d(public["y"]), b64d(private["d"]))
    p384 = generated["ES384"].public().to_dict()
    for members in (
        {**public, "x": b64e(x[1:])},
        {**public, "y": b64e(y[1:])},
        {**public, "x": b64e(b"\x00" + x)},
        {**public, "y": b64e(b"\x00" + y)},
        {**public, "x": b64e(x.lstrip(b"\x00")[:-1])},
        {**public, "x": ""},
        {**private, "d": b64e(d[1:])},
        {**private, "d": b64e(b"\x00" + d)},
        {**p384, "crv": "P-256", "alg": "ES256"},
        {**public, "crv": "P-384", "alg": "ES384"},
        {**public, "crv": "P-521", "alg": "ES512"},
    ):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json(members)


def test_ec_missing_members(generated: dict[str, tw.JWK]) -> None:
    public = _p256_public(generated)
    for member in ("crv", "x", "y"):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({k: v for k, v in public.items() if k != member})
    for crv in ("secp256k1", "P-192", "p-256", "Ed25519", "X25519", 256, None):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({**public, "crv": crv})


@pytest.mark.parametrize(
    ("source", "alg"),
    [
        ("ES256", "ES384"),
        ("ES256", "ES512"),
        ("ES384", "ES256"),
        ("ES512", "ES384"),
        ("ES256", "RS256"),
        ("ES256", "HS256"),
        ("ES256", "EdDSA"),
        ("EdDSA", "ES256"),
        ("EdDSA", "RS256"),
        ("RS256", "ES256"),
        ("RS256", "HS256"),
        ("RS256", "EdDSA"),
        ("ES256", "RSA-OAEP"),
        ("RS256", "RSA-OAEP-256"),
        ("ES256", "ECDH-ES"),
        ("ES256", "none"),
        ("RS256", "rs256"),
    ],
)
def test_alg_key_mismatch_refused(source: str, alg: str, generated: dict[str, tw.JWK]) -> None:
    for private in (False, True):
        members = {**generated[source].to_dict(private=private), "alg": alg}
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json(members)


def test_okp_validation() -> None:
    good = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": RFC8037_D}
    assert tw.JWK.from_json(good).is_private
    other_x = tw.JWK.generate("EdDSA").public().to_dict()["x"]
    for members in (
        {**good, "x": other_x},  # x does not belong to d
        {**good, "crv": "X25519"},
        {**good, "crv": "Ed448"},
        {k: v for k, v in good.items() if k != "crv"},
        {k: v for k, v in good.items() if k != "x"},
        {**good, "x": b64e(b64d(RFC8037_X)[:31])},
        {**good, "d": b64e(b64d(RFC8037_D) + b"\x00")},
        {"kty": "OKP", "crv": "Ed25519", "x": b64e(b64d(RFC8037_X) + b"\x00")},
    ):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json(members)


def test_rsa_exponent_rules(generated: dict[str, tw.JWK]) -> None:
    n = generated["RS256"].public().to_dict()["n"]
    assert tw.JWK.from_json({"kty": "RSA", "n": n, "e": int_b64(3)}).key_type == "RSA"
    for e in (0, 1, 2, 65536, 65538):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({"kty": "RSA", "n": n, "e": int_b64(e)})
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({"kty": "RSA", "n": n, "e": n})  # e not below n
    n_int = int.from_bytes(b64d(n), "big")
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({"kty": "RSA", "n": int_b64(n_int + 1), "e": "AQAB"})  # even modulus
    for member in ("n", "e"):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json(
                {k: v for k, v in {"kty": "RSA", "n": n, "e": "AQAB"}.items() if k != member}
            )


def test_rsa_members_are_read_as_unsigned_values(generated: dict[str, tw.JWK]) -> None:
    """n and e are read as big-endian unsigned values: leading zero bytes change nothing, and the
    size and exponent rules apply to the value, not to the length of the member."""
    public = generated["RS256"].public().to_dict()
    n = b64d(public["n"])
    n_int = int.from_bytes(n, "big")
    thumbprint = generated["RS256"].thumbprint()

    def key(**members: str) -> tw.JWK:
        return tw.JWK.from_json({"kty": "RSA", "n": public["n"], "e": "AQAB", **members})

    assert key(n=b64e(b"\x00" + n)).thumbprint() == thumbprint
    assert key(n=b64e(b"\x00" * 3000 + n)).thumbprint() == thumbprint
    assert key(e=b64e(b"\x00\x01\x00\x01")).thumbprint() == thumbprint
    assert key(e=b64e(b"\x00" * 300 + b"\x01\x00\x01")).thumbprint() == thumbprint
    assert key(e=int_b64(n_int - 2)).key_type == "RSA"  # the largest odd exponent below n
    for e in (n_int, n_int + 2, (n_int << 8) | 1):
        with pytest.raises(tw.InvalidKeyError, match="less than the modulus"):
            key(e=int_b64(e))
    with pytest.raises(tw.InvalidKeyError, match="less than the modulus"):
        key(e=b64e(b"\x00" * 10))
    with pytest.raises(tw.InvalidKeyError, match="has 2047 bits"):
        key(n=b64e(b"\x00" + (n_int >> 1 | 1).to_bytes(256, "big")))
    with pytest.raises(tw.InvalidKeyError, match="has 0 bits"):
        key(n=b64e(b"\x00" * 256))
    with pytest.raises(tw.InvalidKeyError, match="modulus is even"):
        key(n=int_b64(n_int ^ 1))
    largest = (1 << 16384) - 1 - 2 * 3**1000
    assert key(n=int_b64(largest)).key_type == "RSA"
    for too_large in (1 << 16384 | 1, (1 << 17000) - 1):
        with pytest.raises(tw.InvalidKeyError, match="larger than 16384 bits"):
            key(n=int_b64(too_large))


def _import_outcome(data: Any) -> tuple[Any, ...]:
    """The error text, or what the imported key says of itself."""
    try:
        key = tw.JWK.from_json(data)
    except tw.InvalidKeyError as exc:
        return ("refused", str(exc))
    return (key.to_dict(private=True), key.kid, key.algorithm, key.use, key.key_ops, key.is_private)


def _member_variants(generated: dict[str, tw.JWK]) -> list[Any]:
    rsa_private = generated["RS256"].to_dict(private=True)
    rsa_public = generated["RS256"].public().to_dict()
    ec_public = generated["ES256"].public().to_dict()
    okp_public = generated["EdDSA"].public().to_dict()
    oct_key = generated["HS256"].to_dict(private=True)
    without = lambda d, m: {k: v for k, v in d.items() if k != m}  # noqa: E731
    return [
        rsa_private,
        rsa_public,
        ec_public,
        generated["ES512"].to_dict(private=True),
        okp_public,
        generated["EdDSA"].to_dict(private=True),
        oct_key,
        without(rsa_private, "qi"),
        {**rsa_private, "p": 1},
        {**rsa_private, "dq": "not base64url!"},
        {**rsa_public, "oth": []},
        {**rsa_public, "n": 5},
        {**rsa_public, "e": None},
        {**rsa_public, "alg": "ES256"},
        {**rsa_public, "alg": 1},
        {**rsa_public, "use": "enc"},
        {**rsa_public, "kid": ["a"]},
        {**rsa_public, "key_ops": ["verify", "verify", 1]},
        {**rsa_public, "key_ops": [1, "verify", "verify"]},
        {**rsa_public, "key_ops": ["verify", "x", {}]},
        {**rsa_public, "key_ops": "verify"},
        {**rsa_public, "key_ops": ["sign", "verify", "x-custom"]},
        {**rsa_public, "kty": "rsa"},
        without(rsa_public, "kty"),
        without(rsa_public, "e"),
        {**ec_public, "crv": "P-384"},
        {**ec_public, "crv": 256},
        {**ec_public, "y": None},
        {**okp_public, "crv": "X25519"},
        {**oct_key, "k": 1},
        {**oct_key, "x-ext": {"nested": [1, 2.5, None, True, "s"]}},
        {},
        [],
        ["kty"],
        None,
        1,
    ]


def test_text_and_mapping_import_agree(generated: dict[str, tw.JWK]) -> None:
    """JWK text is read from simdjson's DOM, a mapping from nlohmann's: the same members give the
    same key or the same refusal either way."""
    outcomes = []
    for members in _member_variants(generated):
        text = json.dumps(members)
        outcome = _import_outcome(members)
        assert _import_outcome(text) == outcome, text
        assert _import_outcome(text.encode()) == outcome, text
        outcomes.append(outcome[0] == "refused")
    assert any(outcomes) and not all(outcomes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"kty": "oct", "kty": "oct"}', "JWK: duplicate member name"),
        (b'{"kty": "oct", "x": [[[[[[[[1]]]]]]]]}', "JWK: nesting too deep"),
        (b'{"kty": "oct", "x": 123456789012345678901234567890}', "JWK: number out of range"),
        (b'{"kty": "oct", "x": "\xff"}', "JWK: invalid JSON"),
        (b'{"kty": "oct", "x": 01}', "JWK: invalid JSON"),
        (b'{"kty": "oct"} {}', "JWK: invalid JSON"),
    ],
)
def test_malformed_text_messages(text: bytes, message: str) -> None:
    """A text the JSON rules refuse is refused with parse_json's words (simdjson's own differ)."""
    with pytest.raises(tw.InvalidKeyError, match=message):
        tw.JWK.from_json(text)


@pytest.mark.parametrize(
    "data",
    [
        "[]",
        "null",
        "1",
        '"kty"',
        "{",
        "",
        "{}",
        '{"kty": "XYZ"}',
        '{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw", "kty": "RSA"}',
        '{"kty": 1}',
        '{"kty": null}',
        '{"kty": "rsa", "n": "AQAB", "e": "AQAB"}',
        b"\xff\xfe",
        [],
        {"kty": "EC", "crv": "P-256"},
        {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw", "key_ops": "sign"},
        {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw", "key_ops": ["a", "a"]},
        {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw", "key_ops": [1]},
        {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw", "kid": 1},
        {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw", "use": ["sig"]},
        {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw", "alg": 256},
    ],
)
def test_from_json_rejects_malformed(data: Any) -> None:
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json(data)


def test_from_json_deeply_nested_is_refused() -> None:
    deep = '{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw","x":' + "[" * 5000
    deep += "]" * 5000 + "}"
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json(deep)


def test_unknown_members_are_ignored(generated: dict[str, tw.JWK]) -> None:
    members = {**generated["ES256"].public().to_dict(), "x-custom": {"a": [1, 2]}, "ext": True}
    key = tw.JWK.from_json(members)
    assert key.thumbprint() == generated["ES256"].thumbprint()


# --- PEM export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "PS512", "ES256", "ES384", "ES512", "EdDSA"])
def test_to_pem_round_trip(algorithm: str) -> None:
    key = tw.JWK.generate(algorithm)
    private_pem = key.to_pem(private=True)
    public_pem = key.to_pem()
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, unencrypted
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----\n")  # SubjectPublicKeyInfo
    assert key.public().to_pem() == public_pem
    again = tw.JWK.from_pem(private_pem, algorithm)
    assert again.is_private and again.thumbprint() == key.thumbprint()
    assert tw.JWK.from_pem(public_pem, algorithm).thumbprint() == key.thumbprint()


def test_to_pem_refusals() -> None:
    with pytest.raises(tw.InvalidKeyError, match="no PEM form"):
        tw.JWK.generate("HS256").to_pem()
    with pytest.raises(tw.InvalidKeyError, match="no private PEM"):
        tw.JWK.generate("ES256").public().to_pem(private=True)
