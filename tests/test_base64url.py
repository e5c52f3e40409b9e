"""Strict base64url (RFC 7515 §2, RFC 4648 §5 without padding) through the public API.

Every base64url text tokenward reads, the three token segments and the binary JWK members, must
be canonical: the URL-safe alphabet only, no padding, no whitespace, zero trailing bits, and a
length that is not 1 mod 4. Anything else is refused, even where a permissive decoder would
recover the right bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import tokenward as tw

SECRET = b"tokenward-base64url-tests-secret-0123456789"
NOW = 1_700_000_000
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# RFC 8037 A.1 (Ed25519) and RFC 7515 A.1 (HMAC key): canonical values holding '-' or '_'.
ED25519 = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
OCT = {
    "kty": "oct",
    "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
}


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def lenient_b64decode(text: str) -> bytes:
    """What a permissive decoder does: ignores padding, stray bits, '+' '/' and whitespace."""
    return base64.b64decode(text.replace("-", "+").replace("_", "/") + "==")


def hs256(signing_input: str) -> str:
    return b64e(hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest())


def _padding(v: str) -> str:
    return v + "=" * (-len(v) % 4)


def _std_alphabet(v: str) -> str:
    return v.replace("-", "+").replace("_", "/")


def _trailing_bits(v: str) -> str:
    return v[:-1] + ALPHABET[ALPHABET.index(v[-1]) | 1]


def _length_1_mod_4(v: str) -> str:
    return v + "A" * ((1 - len(v)) % 4)


MUTATIONS: dict[str, Callable[[str], str]] = {
    "padding": _padding,
    "double-padding": lambda v: _padding(v) + "==",
    "std-alphabet": _std_alphabet,
    "trailing-bits": _trailing_bits,
    "space-inside": lambda v: v[:4] + " " + v[4:],
    "newline-inside": lambda v: v[:4] + "\n" + v[4:],
    "trailing-space": lambda v: v + " ",
    "trailing-newline": lambda v: v + "\n",
    "leading-space": lambda v: " " + v,
    "tab-inside": lambda v: v[:4] + "\t" + v[4:],
    "length-1-mod-4": _length_1_mod_4,
    "length-1-mod-4-trimmed": lambda v: v[: len(v) - ((len(v) - 1) % 4)],
    "non-ascii": lambda v: v[:4] + "é" + v[4:],
    "percent-encoded": lambda v: v[:4] + "%2D" + v[4:],
    "nul-byte": lambda v: v[:4] + "\x00" + v[4:],
}
# Mutations where a permissive decoder recovers the original bytes exactly.
SAME_BYTES = {
    "padding",
    "double-padding",
    "std-alphabet",
    "trailing-bits",
    "space-inside",
    "newline-inside",
    "trailing-space",
    "trailing-newline",
    "leading-space",
    "tab-inside",
}


def _applicable(value: str, how: str) -> bool:
    if how in ("padding", "double-padding", "trailing-bits"):
        return len(value) % 4 in (2, 3)
    if how == "std-alphabet":
        return "-" in value or "_" in value
    return True


def _mutate(value: str, how: str) -> str:
    out = MUTATIONS[how](value)
    assert out != value
    if how in SAME_BYTES:
        assert lenient_b64decode(out) == b64d(value), how
    if how.startswith("length-1-mod-4"):
        assert len(out) % 4 == 1
    return out


# --------------------------------------------------------------------------------------------
# tokens


def _canonical_parts() -> tuple[str, str, str]:
    """Token segments that each contain '-' or '_' and have a length of 2 or 3 mod 4."""
    for nonce in range(10_000):
        header = b64e(
            json.dumps({"alg": "HS256", "typ": "JWT", "n": nonce, "x": "~~~???>>>"}).encode()
        )
        claims = {"sub": "alice", "exp": NOW + 3600, "n": nonce, "note": "~~~???>>>"}
        payload = b64e(json.dumps(claims).encode())
        signature = hs256(f"{header}.{payload}")
        parts = (header, payload, signature)
        if all(("-" in p or "_" in p) and len(p) % 4 in (2, 3) for p in parts):
            return parts
    raise AssertionError("no suitable nonce")


PARTS = _canonical_parts()


def _verifier() -> tw.Verifier:
    return tw.Verifier(tw.JWK.from_secret(SECRET), algorithms=["HS256"])


def test_canonical_token_with_url_safe_characters_verifies() -> None:
    header, payload, signature = PARTS
    token = f"{header}.{payload}.{signature}"
    assert _verifier().verify(token, now=NOW)["sub"] == "alice"
    assert tw.unverified_header(token)["alg"] == "HS256"
    assert tw.unverified_claims(token)["note"] == "~~~???>>>"


@pytest.mark.parametrize("segment", [0, 1, 2], ids=["header", "payload", "signature"])
@pytest.mark.parametrize("how", list(MUTATIONS))
def test_non_canonical_token_segment_rejected(segment: int, how: str) -> None:
    parts = list(PARTS)
    parts[segment] = _mutate(parts[segment], how)
    if segment < 2:
        # sign the literal (non-canonical) text so that the encoding is the only fault
        parts[2] = hs256(f"{parts[0]}.{parts[1]}")
    token = ".".join(parts)
    verifier = _verifier()
    with pytest.raises(tw.MalformedTokenError):
        verifier.verify(token, now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        verifier.verify_signature(token)
    if how != "non-ascii":
        with pytest.raises(tw.MalformedTokenError):
            verifier.verify(token.encode("ascii"), now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        tw.unverified_claims(token)
    if segment == 0:
        with pytest.raises(tw.MalformedTokenError):
            tw.unverified_header(token)


@pytest.mark.parametrize("segment", [0, 1, 2], ids=["header", "payload", "signature"])
@pytest.mark.parametrize("bad", ["=", "==", "====", "A", "AAAAA", "*", "!!!!"])
def test_garbage_token_segment_rejected(segment: int, bad: str) -> None:
    parts = list(PARTS)
    parts[segment] = bad
    token = ".".join(parts)
    with pytest.raises(tw.MalformedTokenError):
        _verifier().verify(token, now=NOW)


# Characters next to each range of the alphabet ('-', '0'-'9', 'A'-'Z', '_', 'a'-'z'), the
# padding and standard-alphabet characters, and bytes with the top bit set (as UTF-8 of str).
OUTSIDE = ",./:@[^`{\x7f=+ \xe9\u20ac"


def _long_token(extra: int) -> tuple[str, dict[str, Any]]:
    """A token whose claims segment spans several 32-character blocks, then `extra` more."""
    claims = {
        "sub": "alice",
        "exp": NOW + 60,
        "blob": "".join(chr(33 + i % 94) for i in range(150 + extra)),
    }
    header = b64e(b'{"alg":"HS256"}')
    payload = b64e(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{hs256(f'{header}.{payload}')}", claims


@pytest.mark.parametrize("extra", range(0, 48))
def test_long_claims_decode_exactly(extra: int) -> None:
    token, claims = _long_token(extra)
    assert _verifier().verify(token, now=NOW) == claims
    assert _verifier().verify(token.encode("ascii"), now=NOW) == claims


def test_character_outside_alphabet_rejected_at_every_position() -> None:
    """Wide decoders take the middle of a segment in blocks: one bad character anywhere fails."""
    token, _ = _long_token(5)
    header, payload, _sig = token.split(".")
    verifier = _verifier()
    for i in range(len(payload)):
        bad = OUTSIDE[i % len(OUTSIDE)]
        mutated = payload[:i] + bad + payload[i + 1 :]
        forged = f"{header}.{mutated}.{hs256(f'{header}.{mutated}')}"
        with pytest.raises(tw.MalformedTokenError):
            verifier.verify(forged, now=NOW)


# --------------------------------------------------------------------------------------------
# JWK members


def _ec_private_with_url_safe_members() -> dict[str, Any]:
    """A P-256 private JWK whose x, y and d each contain '-' or '_' (deterministic search)."""
    for scalar in range(2, 10_000):
        key = tw.JWK.from_pem(
            ec.derive_private_key(scalar * 7919 + 12345, ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        d = key.to_dict(private=True)
        if all("-" in d[m] or "_" in d[m] for m in ("x", "y", "d")):
            return d
    raise AssertionError("no suitable key")


def _rsa_private_with_url_safe_members() -> dict[str, Any]:
    """An RSA private JWK whose members other than e each contain '-' or '_' and have a length
    of 2 or 3 mod 4 (almost always the first key generated)."""
    for _ in range(50):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        d = tw.JWK.from_pem(pem).to_dict(private=True)
        members = [d[m] for m in ("n", "d", "p", "q", "dp", "dq", "qi")]
        if all(("-" in v or "_" in v) and len(v) % 4 in (2, 3) for v in members):
            return d
    raise AssertionError("no suitable key")


@pytest.fixture(scope="module")
def jwks() -> dict[str, dict[str, Any]]:
    return {
        "EC": _ec_private_with_url_safe_members(),
        "RSA": _rsa_private_with_url_safe_members(),
        "OKP": ED25519,
        "oct": OCT,
    }


MEMBERS = [
    ("oct", "k"),
    ("EC", "x"),
    ("EC", "y"),
    ("EC", "d"),
    ("OKP", "x"),
    ("OKP", "d"),
    ("RSA", "n"),
    ("RSA", "e"),
    ("RSA", "d"),
    ("RSA", "p"),
    ("RSA", "q"),
    ("RSA", "dp"),
    ("RSA", "dq"),
    ("RSA", "qi"),
]


@pytest.mark.parametrize(("kty", "member"), MEMBERS, ids=[f"{k}.{m}" for k, m in MEMBERS])
def test_canonical_jwk_members_accepted(
    kty: str, member: str, jwks: dict[str, dict[str, Any]]
) -> None:
    key = tw.JWK.from_json(jwks[kty])
    assert key.key_type == kty
    assert key.to_dict(private=True)[member] == jwks[kty][member]


# "e" is "AQAB" (65537): four characters, no '-' or '_', so it has no padded or re-alphabeted form.
MEMBER_CASES = [
    pytest.param(kty, member, how, id=f"{kty}.{member}-{how}")
    for kty, member in MEMBERS
    for how in MUTATIONS
    if not (member == "e" and how in ("padding", "double-padding", "std-alphabet", "trailing-bits"))
]


@pytest.mark.parametrize(("kty", "member", "how"), MEMBER_CASES)
def test_non_canonical_jwk_member_rejected(
    kty: str, member: str, how: str, jwks: dict[str, dict[str, Any]]
) -> None:
    value = jwks[kty][member]
    if not _applicable(value, how):
        pytest.skip(f"{kty}.{member} = {value[:8]}... has no form for {how}")
    bad = {**jwks[kty], member: _mutate(value, how)}
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json(bad)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json(json.dumps(bad))
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json(json.dumps(bad).encode())

    keys = tw.JWKSet.from_json({"keys": [bad]})
    assert len(keys) == 0
    assert len(keys.skipped) == 1
    # a skipped key's reason names no secret material
    if member in ("k", "d", "p", "q", "dp", "dq", "qi"):
        assert value[:16] not in keys.skipped[0]


@pytest.mark.parametrize("how", ["std-alphabet", "padding", "trailing-bits", "space-inside"])
def test_non_canonical_public_members_of_a_public_key(
    how: str, jwks: dict[str, dict[str, Any]]
) -> None:
    """Public keys (no private members) go through the same strict decoder."""
    ec_public = {m: jwks["EC"][m] for m in ("kty", "crv", "x", "y")}
    okp_public = {m: ED25519[m] for m in ("kty", "crv", "x")}
    rsa_public = {m: jwks["RSA"][m] for m in ("kty", "n", "e")}
    for public, member in ((ec_public, "x"), (ec_public, "y"), (okp_public, "x")):
        tw.JWK.from_json(public)
        if not _applicable(public[member], how):
            continue
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({**public, member: _mutate(public[member], how)})
    tw.JWK.from_json(rsa_public)
    if _applicable(rsa_public["n"], how):
        with pytest.raises(tw.InvalidKeyError):
            tw.JWK.from_json({**rsa_public, "n": _mutate(rsa_public["n"], how)})


@pytest.mark.parametrize("value", ["AQAB", "Aw"])
def test_rsa_exponent_forms(value: str, jwks: dict[str, dict[str, Any]]) -> None:
    """Canonical exponents (65537, 3) are read."""
    key = tw.JWK.from_json({"kty": "RSA", "n": jwks["RSA"]["n"], "e": value})
    assert key.key_type == "RSA"


@pytest.mark.parametrize("bad", ["AQAB=", "AQAB\n", " AQAB", "AQ+B", "AQABA", "AQAC", ""])
def test_bad_rsa_exponent_text(bad: str, jwks: dict[str, dict[str, Any]]) -> None:
    """Non-canonical e text (or an even e, or an empty one) is refused."""
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_json({"kty": "RSA", "n": jwks["RSA"]["n"], "e": bad})
