"""Single-use tokens for e-mail verification, password reset and the mfa_token (C++ core): the
shape is strict, the hash at rest is an HMAC under a key of the purpose alone, the purposes never
serve for each other, and the comparison is the constant-time one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import tokenward as tw

SECRET = b"s" * 32
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def verify() -> tw.OneTimeTokens:
    return tw.OneTimeTokens(SECRET, "verify-email")


@pytest.fixture
def reset() -> tw.OneTimeTokens:
    return tw.OneTimeTokens(SECRET, "reset-password")


def test_issue_gives_a_token_and_its_hash(verify: tw.OneTimeTokens) -> None:
    token, token_hash = verify.issue()
    assert re.fullmatch(r"twv_[A-Za-z0-9_-]{43}", token)
    assert re.fullmatch(r"[0-9a-f]{64}", token_hash)
    assert verify.hash(token) == token_hash
    assert verify.matches(token, token_hash)
    assert verify.is_token(token)
    assert (verify.purpose, verify.prefix) == ("verify-email", "twv_")


def test_the_hash_is_hmac_under_an_hkdf_key_of_the_purpose(
    verify: tw.OneTimeTokens, reset: tw.OneTimeTokens
) -> None:
    """Known answer computed independently with `cryptography` and hmac."""
    mfa = tw.OneTimeTokens(SECRET, "mfa")
    for tokens, purpose in ((verify, "verify-email"), (reset, "reset-password"), (mfa, "mfa")):
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"tokenward one-time token v1 {purpose}".encode(),
        ).derive(SECRET)
        token, token_hash = tokens.issue()
        assert token_hash == hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def test_tokens_are_distinct(verify: tw.OneTimeTokens) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        issued = list(pool.map(lambda _: verify.issue(), range(400)))
    assert len({t for t, _ in issued}) == 400
    assert len({h for _, h in issued}) == 400
    assert all(verify.matches(t, h) for t, h in issued)


def test_purposes_never_serve_for_each_other(
    verify: tw.OneTimeTokens, reset: tw.OneTimeTokens
) -> None:
    r_token, r_hash = reset.issue()
    v_token, v_hash = verify.issue()
    assert r_token.startswith("twr_")
    # A reset token is not a verification token, and the reverse.
    assert not verify.is_token(r_token) and not reset.is_token(v_token)
    assert not verify.matches(r_token, r_hash)
    assert not reset.matches(v_token, v_hash)
    with pytest.raises(tw.MalformedTokenError):
        verify.hash(r_token)
    with pytest.raises(tw.MalformedTokenError):
        reset.hash(v_token)
    # Even the same random part under the other prefix hashes under another key.
    relabelled = "twv_" + r_token[4:]
    assert verify.is_token(relabelled)
    assert verify.hash(relabelled) != r_hash
    assert not verify.matches(relabelled, r_hash)
    # And two hashers of different purposes give different hashes for the same text shape.
    assert verify.hash(relabelled) != reset.hash("twr_" + r_token[4:])


def test_mfa_tokens_serve_no_other_purpose(
    verify: tw.OneTimeTokens, reset: tw.OneTimeTokens
) -> None:
    """The mfa_token of a sign-in waiting for its second factor (tokenward.secondfactor):
    'twm_', 47 characters, and never a verification or reset token, nor they one of it."""
    mfa = tw.OneTimeTokens(SECRET, "mfa")
    assert (mfa.purpose, mfa.prefix) == ("mfa", "twm_")
    token, token_hash = mfa.issue()
    assert re.fullmatch(r"twm_[A-Za-z0-9_-]{43}", token) and mfa.matches(token, token_hash)
    for other in (verify, reset):
        o_token, o_hash = other.issue()
        assert not other.is_token(token) and not mfa.is_token(o_token)
        assert not other.matches(token, token_hash) and not mfa.matches(o_token, o_hash)
        with pytest.raises(tw.MalformedTokenError):
            other.hash(token)
        with pytest.raises(tw.MalformedTokenError):
            mfa.hash(o_token)
        relabelled = "twm_" + o_token[4:]
        assert mfa.hash(relabelled) != o_hash
    assert repr(mfa) == "<OneTimeTokens purpose='mfa'>"


def test_a_different_secret_gives_different_hashes(verify: tw.OneTimeTokens) -> None:
    token, token_hash = verify.issue()
    other = tw.OneTimeTokens(b"t" * 32, "verify-email")
    assert other.hash(token) != token_hash
    assert not other.matches(token, token_hash)


def _flip_last(token: str) -> str:
    """The same token with a non-canonical last character (the two spare bits set)."""
    raw = base64.urlsafe_b64decode(token[4:] + "=")
    canonical = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert canonical == token[4:]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(token[-1]) | 1]


def test_the_shape_is_strict(verify: tw.OneTimeTokens) -> None:
    token, token_hash = verify.issue()
    assert alphabet_index(token[-1]) & 3 == 0  # 258 bits for 256: the last two are zero
    bad = [
        "",
        "twv_",
        token[:-1],
        token + "A",
        token.upper(),
        "TWV_" + token[4:],
        "twv-" + token[4:],
        token[:-1] + "=",
        token[:10] + "+" + token[11:],
        token[:10] + "/" + token[11:],
        token[:10] + " " + token[11:],
        token + "\n",
        token[:-1] + "\x00",
        _flip_last(token),
        "twv_" + "A" * 42 + "=",
        "twv_" + "A" * 4000,
    ]
    for text in bad:
        assert not verify.is_token(text), text
        assert not verify.matches(text, token_hash), text
        with pytest.raises(tw.MalformedTokenError):
            verify.hash(text)
    # Non-ASCII text is refused before anything is encoded.
    assert not verify.is_token(token[:-1] + "é")
    assert not verify.matches(token[:-1] + "é", token_hash)
    with pytest.raises(tw.MalformedTokenError):
        verify.hash(token[:-1] + "é")


def alphabet_index(ch: str) -> int:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(ch)


def test_the_stored_hash_is_strictly_parsed(verify: tw.OneTimeTokens) -> None:
    token, token_hash = verify.issue()
    for wrong in ("", token_hash[:-1], token_hash + "0", token_hash.upper(), "g" * 64, "é" * 64):
        assert not verify.matches(token, wrong)
    flipped = token_hash[:-1] + ("0" if token_hash[-1] != "0" else "1")
    assert not verify.matches(token, flipped)


def test_arguments_are_checked() -> None:
    with pytest.raises(tw.ConfigurationError):
        tw.OneTimeTokens(SECRET, "login")
    with pytest.raises(tw.ConfigurationError):
        tw.OneTimeTokens(SECRET, "Verify-Email")
    with pytest.raises(tw.ConfigurationError):
        tw.OneTimeTokens(SECRET, "MFA")
    with pytest.raises(tw.InvalidKeyError):
        tw.OneTimeTokens(b"short", "verify-email")
    tokens = tw.OneTimeTokens("x" * 32, "reset-password")  # str secrets count as UTF-8
    with pytest.raises(TypeError):
        tokens.hash(b"twr_" + b"A" * 43)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tokens.matches("twr_" + "A" * 43, b"00" * 32)  # type: ignore[arg-type]
    assert repr(tokens) == "<OneTimeTokens purpose='reset-password'>"


def test_the_comparison_is_constant_time() -> None:
    """The check goes through crypto::equal_constant_time (CRYPTO_memcmp), never ==."""
    source = (ROOT / "cpp" / "src" / "one_time_tokens.cpp").read_text(encoding="utf-8")
    body = source[source.index("bool one_time_tokens::matches") :]
    body = body[: body.index("\n}\n")]
    assert "crypto::equal_constant_time(" in body
    assert "==" not in body and "memcmp(" not in body.replace("CRYPTO_memcmp", "")
    mac = (ROOT / "cpp" / "src" / "crypto" / "mac.cpp").read_text(encoding="utf-8")
    assert "CRYPTO_memcmp" in mac
