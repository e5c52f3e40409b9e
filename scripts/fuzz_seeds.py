"""Write a few well-formed inputs as seeds for the libFuzzer corpora (see `make fuzz`)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import tokenward as tw


def main(root: Path) -> None:
    tokens = root / "fuzz_token"
    keys = root / "fuzz_jwk"
    texts = root / "fuzz_json"
    fields = root / "fuzz_field_cipher"
    for d in (tokens, keys, texts, fields):
        d.mkdir(parents=True, exist_ok=True)
    hashes = root / "fuzz_password_hash"
    hashes.mkdir(parents=True, exist_ok=True)
    (hashes / "seed-argon2id").write_text(tw.PasswordHasher(memlimit=19 << 20).hash("password"))
    (hashes / "seed-reset-token").write_text(
        tw.OneTimeTokens("s" * 32, "reset-password").issue()[0]
    )
    claims = {"iss": "https://issuer.example", "aud": "api", "exp": int(time.time()) + 60}
    for alg in tw.ALGORITHMS:
        key = tw.JWK.generate(alg)
        (tokens / f"seed-{alg}").write_text(tw.encode(claims, key))
        (keys / f"seed-{alg}").write_text(key.to_json(private=True))
    (keys / "seed-set").write_text(tw.JWKSet([tw.JWK.generate("ES256").public()]).to_json())
    (texts / "seed-object").write_text('{"a":[1,2.5,true,null,"x"],"b":{"c":"d"}}')
    (texts / "seed-b64").write_text("eyJhbGciOiJIUzI1NiJ9")
    # edges where JSON parsers tend to differ (fuzz_json compares nlohmann with simdjson)
    numbers = "[18446744073709551615,-9223372036854775808,-0,1e308,0.5e-3]"
    (texts / "seed-numbers").write_text(numbers)
    (texts / "seed-escapes").write_text('{"a":"\\u0000\\ud83d\\ude00","b\\u0061":1}')
    (texts / "seed-deep").write_text("[" * 16 + "]" * 16)
    tw1 = tw.FieldCipher({"k1": "a" * 40, "k2": "b" * 40}, primary="k1")
    (fields / "seed-tw1").write_text(tw1.encrypt("userId"))
    (fields / "seed-legacy").write_text(tw.FieldCipher.ignis_legacy("my-app-secret").encrypt("x"))
    encrypted = tw1.encrypt_claims({"sub": "u1", "email": "e@example.com"})
    (fields / "seed-claims").write_text(json.dumps(encrypted))
    otp = root / "fuzz_totp"
    otp.mkdir(parents=True, exist_ok=True)
    (otp / "seed-secret").write_text(tw.base32_encode(tw.totp_secret()))
    (otp / "seed-code").write_text(tw.hotp_code(b"12345678901234567890", 0))
    (otp / "seed-recovery").write_text(tw.RecoveryCodeHasher.new_codes(1)[0].lower())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
