"""Known answers from the JOSE RFCs: keys, tokens and signatures exactly as published.

Sources: RFC 7515 Appendix A.1-A.4 (JWS examples), RFC 8037 Appendix A.1-A.4 (Ed25519),
RFC 7520 section 4.1-4.4 (the "bilbo.baggins@hobbiton.example" cookbook signatures) and
RFC 7638 section 3.1 (JWK thumbprint). Deterministic algorithms (HMAC, RSASSA-PKCS1-v1_5,
Ed25519) must be reproduced byte for byte; randomized ones (ECDSA, RSASSA-PSS) are verified.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import tokenward as tw
from tokenward import _core


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def split(token: str) -> tuple[bytes, bytes, bytes]:
    """(signing input, decoded payload, decoded signature) of a compact JWS."""
    header, payload, signature = token.split(".")
    return f"{header}.{payload}".encode("ascii"), b64u_decode(payload), b64u_decode(signature)


def flip_last_signature_byte(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(b64u_decode(signature))
    raw[-1] ^= 0x01
    return f"{header}.{payload}.{b64u_encode(bytes(raw))}"


def without_private(jwk: dict[str, str], private: tuple[str, ...]) -> dict[str, str]:
    return {name: value for name, value in jwk.items() if name not in private}


RSA_PRIVATE = ("d", "p", "q", "dp", "dq", "qi")

# --------------------------------------------------------------------------------------------
# RFC 7515 Appendix A: shared payload of A.1-A.3 (note the CRLF and the leading spaces).
# --------------------------------------------------------------------------------------------

RFC7515_PAYLOAD = b'{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}'
RFC7515_PAYLOAD_B64 = (
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
)
RFC7515_CLAIMS = {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
RFC7515_EXP = 1300819380

# A.1 HS256
A1_JWK = {
    "kty": "oct",
    "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
}
A1_HEADER = b'{"typ":"JWT",\r\n "alg":"HS256"}'
A1_HEADER_B64 = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
A1_SIGNATURE_B64 = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
A1_TOKEN = f"{A1_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{A1_SIGNATURE_B64}"

# A.2 RS256
A2_JWK = {
    "kty": "RSA",
    "n": (
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
        "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs"
        "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH"
        "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV"
        "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8"
        "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    ),
    "e": "AQAB",
    "d": (
        "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97I"
        "jlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0"
        "BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn"
        "439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYT"
        "CBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLh"
        "BOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
    ),
    "p": (
        "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdi"
        "YrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPG"
        "BY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
    ),
    "q": (
        "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxa"
        "ewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA"
        "-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
    ),
    "dp": (
        "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3Q"
        "CLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb"
        "34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0"
    ),
    "dq": (
        "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9x"
        "XDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v"
        "4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU"
    ),
    "qi": (
        "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26"
        "F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITr"
        "JReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"
    ),
}
A2_HEADER_B64 = "eyJhbGciOiJSUzI1NiJ9"  # {"alg":"RS256"}
A2_SIGNATURE_B64 = (
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw"
)
A2_TOKEN = f"{A2_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{A2_SIGNATURE_B64}"

# A.3 ES256
A3_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
}
A3_HEADER_B64 = "eyJhbGciOiJFUzI1NiJ9"  # {"alg":"ES256"}
A3_SIGNATURE_B64 = (
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)
A3_TOKEN = f"{A3_HEADER_B64}.{RFC7515_PAYLOAD_B64}.{A3_SIGNATURE_B64}"

# A.4 ES512 (payload is the plain text "Payload", not a JWT claims set)
A4_JWK = {
    "kty": "EC",
    "crv": "P-521",
    "x": "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk",
    "y": "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2",
    "d": "AY5pb7A0UFiB3RELSD64fTLOSV_jazdF7fLYyuTw8lOfRhWg6Y6rUrPAxerEzgdRhajnu0ferB0d53vM9mE15j2C",
}
A4_TOKEN = (
    "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA."
    "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZq"
    "wqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8Kp"
    "EHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn"
)

# --------------------------------------------------------------------------------------------
# RFC 8037 Appendix A: Ed25519.
# --------------------------------------------------------------------------------------------

ED25519_PRIVATE_JWK = {  # A.1
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
ED25519_PUBLIC_JWK = {  # A.2
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
ED25519_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"  # A.3
ED25519_PAYLOAD = b"Example of Ed25519 signing"  # A.4
ED25519_SIGNING_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
ED25519_SIGNATURE_B64 = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
ED25519_TOKEN = f"{ED25519_SIGNING_INPUT.decode()}.{ED25519_SIGNATURE_B64}"

# --------------------------------------------------------------------------------------------
# RFC 7520 section 3 keys and section 4 signatures.
# --------------------------------------------------------------------------------------------

COOKBOOK_KID = "bilbo.baggins@hobbiton.example"
COOKBOOK_PAYLOAD = (
    "It\u2019s a dangerous business, Frodo, going out your door. You step onto the road, "
    "and if you don't keep your feet, there\u2019s no knowing where you might be swept off to."
).encode("utf-8")
COOKBOOK_PAYLOAD_B64 = (
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlv"
    "dXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24n"
    "dCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91"
    "IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
)

COOKBOOK_RSA_JWK = {  # RFC 7520 section 3.4
    "kty": "RSA",
    "kid": COOKBOOK_KID,
    "use": "sig",
    "n": (
        "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT"
        "-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqV"
        "wGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-"
        "oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde"
        "3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuC"
        "LqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5g"
        "HdrNP5zw"
    ),
    "e": "AQAB",
    "d": (
        "bWUC9B-EFRIo8kpGfh0ZuyGPvMNKvYWNtB_ikiH9k20eT-O1q_I78e"
        "iZkpXxXQ0UTEs2LsNRS-8uJbvQ-A1irkwMSMkK1J3XTGgdrhCku9gRld"
        "Y7sNA_AKZGh-Q661_42rINLRCe8W-nZ34ui_qOfkLnK9QWDDqpaIsA-b"
        "MwWWSDFu2MUBYwkHTMEzLYGqOe04noqeq1hExBTHBOBdkMXiuFhUq1BU"
        "6l-DqEiWxqg82sXt2h-LMnT3046AOYJoRioz75tSUQfGCshWTBnP5uDj"
        "d18kKhyv07lhfSJdrPdM5Plyl21hsFf4L_mHCuoFau7gdsPfHPxxjVOc"
        "OpBrQzwQ"
    ),
    "p": (
        "3Slxg_DwTXJcb6095RoXygQCAZ5RnAvZlno1yhHtnUex_fp7AZ_9nR"
        "aO7HX_-SFfGQeutao2TDjDAWU4Vupk8rw9JR0AzZ0N2fvuIAmr_WCsmG"
        "peNqQnev1T7IyEsnh8UMt-n5CafhkikzhEsrmndH6LxOrvRJlsPp6Zv8"
        "bUq0k"
    ),
    "q": (
        "uKE2dh-cTf6ERF4k4e_jy78GfPYUIaUyoSSJuBzp3Cubk3OCqs6grT"
        "8bR_cu0Dm1MZwWmtdqDyI95HrUeq3MP15vMMON8lHTeZu2lmKvwqW7an"
        "V5UzhM1iZ7z4yMkuUwFWoBvyY898EXvRD-hdqRxHlSqAZ192zB3pVFJ0"
        "s7pFc"
    ),
    "dp": (
        "B8PVvXkvJrj2L-GYQ7v3y9r6Kw5g9SahXBwsWUzp19TVlgI-YV85q"
        "1NIb1rxQtD-IsXXR3-TanevuRPRt5OBOdiMGQp8pbt26gljYfKU_E9xn"
        "-RULHz0-ed9E9gXLKD4VGngpz-PfQ_q29pk5xWHoJp009Qf1HvChixRX"
        "59ehik"
    ),
    "dq": (
        "CLDmDGduhylc9o7r84rEUVn7pzQ6PF83Y-iBZx5NT-TpnOZKF1pEr"
        "AMVeKzFEl41DlHHqqBLSM0W1sOFbwTxYWZDm6sI6og5iTbwQGIC3gnJK"
        "bi_7k_vJgGHwHxgPaX2PnvP-zyEkDERuf-ry4c_Z11Cq9AqC2yeL6kdK"
        "T1cYF8"
    ),
    "qi": (
        "3PiqvXQN0zwMeE-sBvZgi289XP9XCQF3VWqPzMKnIgQp7_Tugo6-N"
        "ZBKCQsMf3HaEGBjTVJs_jcK8-TRXvaKe-7ZMaQj8VfBdYkssbu0NKDDh"
        "jJ-GtiseaDVWt7dcH0cfwxgFUHpQh7FoCrjFJ6h6ZEpMF6xmujs4qMpP"
        "z8aaI4"
    ),
}

COOKBOOK_EC_JWK = {  # RFC 7520 section 3.2 (P-521)
    "kty": "EC",
    "kid": COOKBOOK_KID,
    "use": "sig",
    "crv": "P-521",
    "x": (
        "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt"
    ),
    "y": (
        "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"
    ),
    "d": (
        "AAhRON2r9cqXX1hg-RoI6R1tX5p2rUAYdmpHZoC1XNM56KtscrX6zbKipQrCW9CGZH3T4ubpnoTKLDYJ_fF3_rJt"
    ),
}

COOKBOOK_HMAC_JWK = {  # RFC 7520 section 3.5
    "kty": "oct",
    "kid": "018c0ae5-4d9b-471b-bfd6-eef314bc7037",
    "use": "sig",
    "alg": "HS256",
    "k": "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg",
}

# 4.1 RSA v1.5 (RS256): header {"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}
C41_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
    f".{COOKBOOK_PAYLOAD_B64}."
    "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZop"
    "dHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJ"
    "K3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4"
    "QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic"
    "1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogor"
    "ee7vjbU5y18kDquDg"
)

# 4.2 RSA-PSS (PS384): randomized, verify only.
C42_TOKEN = (
    "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
    f".{COOKBOOK_PAYLOAD_B64}."
    "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6"
    "-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXz"
    "g-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ijQ7p"
    "8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aC"
    "N_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6o"
    "D4ifKo8DYM-X72Eaw"
)

# 4.3 ECDSA (ES512): randomized, verify only.
C43_TOKEN = (
    "eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
    f".{COOKBOOK_PAYLOAD_B64}."
    "AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9P"
    "lon7KRTzoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890j"
    "l8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2"
)

# 4.4 HMAC-SHA2 (HS256)
C44_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9"
    f".{COOKBOOK_PAYLOAD_B64}."
    "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0"
)

# --------------------------------------------------------------------------------------------
# RFC 7638 section 3.1
# --------------------------------------------------------------------------------------------

RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAt"
        "VT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn6"
        "4tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9"
        "1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINH"
        "aQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


# --------------------------------------------------------------------------------------------
# Sanity of the transcription itself (independent of tokenward).
# --------------------------------------------------------------------------------------------


def test_transcribed_encodings_are_consistent() -> None:
    assert b64u_decode(A1_HEADER_B64) == A1_HEADER
    assert b64u_decode(RFC7515_PAYLOAD_B64) == RFC7515_PAYLOAD
    assert json.loads(RFC7515_PAYLOAD) == RFC7515_CLAIMS
    assert b64u_decode(A2_HEADER_B64) == b'{"alg":"RS256"}'
    assert b64u_decode(A3_HEADER_B64) == b'{"alg":"ES256"}'
    assert b64u_decode(COOKBOOK_PAYLOAD_B64) == COOKBOOK_PAYLOAD
    assert ED25519_SIGNING_INPUT == b"eyJhbGciOiJFZERTQSJ9." + b64u_encode(ED25519_PAYLOAD).encode()
    # Key and signature sizes fixed by the algorithms.
    assert len(b64u_decode(A1_JWK["k"])) == 64
    assert len(b64u_decode(A2_JWK["n"])) == 256
    assert len(b64u_decode(A2_SIGNATURE_B64)) == 256
    assert len(b64u_decode(A3_SIGNATURE_B64)) == 64
    assert len(split(A4_TOKEN)[2]) == 132
    assert len(b64u_decode(ED25519_SIGNATURE_B64)) == 64
    assert len(b64u_decode(COOKBOOK_RSA_JWK["n"])) == 256
    assert len(split(C41_TOKEN)[2]) == 256
    assert len(split(C42_TOKEN)[2]) == 256
    assert len(split(C43_TOKEN)[2]) == 132
    assert len(split(C44_TOKEN)[2]) == 32
    assert len(b64u_decode(RFC7638_JWK["n"])) == 256
    for jwk in (A4_JWK, COOKBOOK_EC_JWK):
        assert {len(b64u_decode(jwk[c])) for c in ("x", "y", "d")} == {66}


# --------------------------------------------------------------------------------------------
# RFC 7515 A.1 HS256
# --------------------------------------------------------------------------------------------


def test_rfc7515_a1_hs256_signature_reproduced() -> None:
    key = tw.JWK.from_json(A1_JWK)
    signing_input, _, signature = split(A1_TOKEN)
    assert _core._sign_raw("HS256", key, signing_input) == signature
    assert b64u_encode(_core._sign_raw("HS256", key, signing_input)) == A1_SIGNATURE_B64
    assert _core._hmac("HS256", b64u_decode(A1_JWK["k"]), signing_input) == signature
    assert _core._verify_raw("HS256", key, signing_input, signature) is True


def test_rfc7515_a1_hs256_verifies() -> None:
    key = tw.JWK.from_json(A1_JWK)
    verifier = tw.Verifier(key, algorithms=["HS256"])
    assert verifier.verify_signature(A1_TOKEN) == RFC7515_PAYLOAD
    assert tw.unverified_header(A1_TOKEN) == {"typ": "JWT", "alg": "HS256"}
    assert tw.unverified_claims(A1_TOKEN) == RFC7515_CLAIMS
    # One second before exp the full check passes with the exact claims.
    assert verifier.verify(A1_TOKEN, now=RFC7515_EXP - 1) == RFC7515_CLAIMS


def test_rfc7515_a1_hs256_is_expired_now() -> None:
    key = tw.JWK.from_json(A1_JWK)
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(A1_TOKEN, key, algorithms=["HS256"])
    with pytest.raises(tw.ExpiredTokenError):
        tw.Verifier(key, algorithms=["HS256"]).verify(A1_TOKEN, now=RFC7515_EXP)


def test_rfc7515_a1_hs256_tampered_signature_rejected() -> None:
    key = tw.JWK.from_json(A1_JWK)
    verifier = tw.Verifier(key, algorithms=["HS256"])
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(A1_TOKEN))
    signing_input, _, signature = split(A1_TOKEN)
    assert _core._verify_raw("HS256", key, signing_input + b"x", signature) is False


# --------------------------------------------------------------------------------------------
# RFC 7515 A.2 RS256
# --------------------------------------------------------------------------------------------


def test_rfc7515_a2_rs256_signature_reproduced() -> None:
    key = tw.JWK.from_json(A2_JWK)
    assert key.is_private is True
    assert key.key_type == "RSA"
    signing_input, _, signature = split(A2_TOKEN)
    assert _core._sign_raw("RS256", key, signing_input) == signature
    assert b64u_encode(_core._sign_raw("RS256", key, signing_input)) == A2_SIGNATURE_B64
    assert _core._verify_raw("RS256", key.public(), signing_input, signature) is True


def test_rfc7515_a2_rs256_verifies_with_public_key() -> None:
    public = tw.JWK.from_json(without_private(A2_JWK, RSA_PRIVATE))
    assert public.is_private is False
    assert public.thumbprint() == tw.JWK.from_json(A2_JWK).thumbprint()
    verifier = tw.Verifier(public, algorithms=["RS256"])
    assert verifier.verify_signature(A2_TOKEN) == RFC7515_PAYLOAD
    assert verifier.verify(A2_TOKEN, now=RFC7515_EXP - 1) == RFC7515_CLAIMS
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(A2_TOKEN, public, algorithms=["RS256"])
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(A2_TOKEN))


def test_rfc7515_a2_rs256_not_accepted_as_ps256() -> None:
    public = tw.JWK.from_json(without_private(A2_JWK, RSA_PRIVATE))
    signing_input, _, signature = split(A2_TOKEN)
    assert _core._verify_raw("PS256", public, signing_input, signature) is False
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(public, algorithms=["PS256"]).verify_signature(A2_TOKEN)


# --------------------------------------------------------------------------------------------
# RFC 7515 A.3 ES256 and A.4 ES512 (ECDSA is randomized: verify the given signatures)
# --------------------------------------------------------------------------------------------


def test_rfc7515_a3_es256_verifies() -> None:
    key = tw.JWK.from_json(A3_JWK)
    public = tw.JWK.from_json(without_private(A3_JWK, ("d",)))
    assert key.public().to_dict() == public.to_dict()
    assert public.curve == "P-256"
    signing_input, _, signature = split(A3_TOKEN)
    assert _core._verify_raw("ES256", public, signing_input, signature) is True
    verifier = tw.Verifier(public, algorithms=["ES256"])
    assert verifier.verify_signature(A3_TOKEN) == RFC7515_PAYLOAD
    assert verifier.verify(A3_TOKEN, now=RFC7515_EXP - 1) == RFC7515_CLAIMS
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(A3_TOKEN, public, algorithms=["ES256"])
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(A3_TOKEN))


def test_rfc7515_a3_es256_own_signature_verifies() -> None:
    key = tw.JWK.from_json(A3_JWK)
    signing_input, _, rfc_signature = split(A3_TOKEN)
    signature = _core._sign_raw("ES256", key, signing_input)
    assert len(signature) == 64
    assert signature != rfc_signature  # randomized (or RFC 6979 with another k): never equal
    assert _core._verify_raw("ES256", key.public(), signing_input, signature) is True


def test_rfc7515_a3_es256_der_signature_refused() -> None:
    # The same (r, s) in ASN.1 DER form must not verify: JWS uses fixed-length R||S.
    public = tw.JWK.from_json(without_private(A3_JWK, ("d",)))
    signing_input, _, signature = split(A3_TOKEN)
    r, s = signature[:32], signature[32:]

    def der_int(value: bytes) -> bytes:
        value = value.lstrip(b"\x00") or b"\x00"
        if value[0] & 0x80:
            value = b"\x00" + value
        return b"\x02" + bytes([len(value)]) + value

    body = der_int(r) + der_int(s)
    der = b"\x30" + bytes([len(body)]) + body
    assert _core._verify_raw("ES256", public, signing_input, der) is False


def test_rfc7515_a4_es512_verifies() -> None:
    public = tw.JWK.from_json(without_private(A4_JWK, ("d",)))
    assert public.curve == "P-521"
    assert tw.JWK.from_json(A4_JWK).public().to_dict() == public.to_dict()
    signing_input, payload, signature = split(A4_TOKEN)
    assert payload == b"Payload"
    assert _core._verify_raw("ES512", public, signing_input, signature) is True
    verifier = tw.Verifier(public, algorithms=["ES512"])
    assert verifier.verify_signature(A4_TOKEN) == b"Payload"
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(A4_TOKEN))
    # The payload is not a JSON claims set, so it is no JWT.
    with pytest.raises(tw.MalformedTokenError):
        verifier.verify(A4_TOKEN)


def test_rfc7515_a4_es512_wrong_curve_alg_refused() -> None:
    public = tw.JWK.from_json(without_private(A4_JWK, ("d",)))
    # ES256 does not fit a P-521 key: refused when building the verifier for a single key.
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(public, algorithms=["ES256"])


# --------------------------------------------------------------------------------------------
# RFC 8037 Appendix A: Ed25519
# --------------------------------------------------------------------------------------------


def test_rfc8037_a1_a2_public_key_of_private_key() -> None:
    private = tw.JWK.from_json(ED25519_PRIVATE_JWK)
    assert private.key_type == "OKP"
    assert private.curve == "Ed25519"
    assert private.is_private is True
    public = private.public()
    assert public.is_private is False
    exported = public.to_dict()
    assert {name: exported[name] for name in ("kty", "crv", "x")} == ED25519_PUBLIC_JWK
    assert "d" not in exported
    assert private.to_dict(private=True)["d"] == ED25519_PRIVATE_JWK["d"]


def test_rfc8037_a3_thumbprint() -> None:
    assert tw.JWK.from_json(ED25519_PUBLIC_JWK).thumbprint() == ED25519_THUMBPRINT
    assert tw.JWK.from_json(ED25519_PRIVATE_JWK).thumbprint() == ED25519_THUMBPRINT


def test_rfc8037_a4_signature_reproduced() -> None:
    private = tw.JWK.from_json(ED25519_PRIVATE_JWK)
    signature = _core._sign_raw("EdDSA", private, ED25519_SIGNING_INPUT)
    assert b64u_encode(signature) == ED25519_SIGNATURE_B64


def test_rfc8037_a5_verification() -> None:
    public = tw.JWK.from_json(ED25519_PUBLIC_JWK)
    signing_input, payload, signature = split(ED25519_TOKEN)
    assert signing_input == ED25519_SIGNING_INPUT
    assert payload == ED25519_PAYLOAD
    assert _core._verify_raw("EdDSA", public, signing_input, signature) is True
    assert _core._verify_raw("EdDSA", public, signing_input + b"x", signature) is False
    verifier = tw.Verifier(public, algorithms=["EdDSA"])
    assert verifier.verify_signature(ED25519_TOKEN) == ED25519_PAYLOAD
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(ED25519_TOKEN))


# --------------------------------------------------------------------------------------------
# RFC 7520 section 4
# --------------------------------------------------------------------------------------------


def cookbook_set(jwk: dict[str, str], private: tuple[str, ...]) -> tw.JWKSet:
    return tw.JWKSet([tw.JWK.from_json(without_private(jwk, private))])


def test_rfc7520_keys_import() -> None:
    rsa = tw.JWK.from_json(COOKBOOK_RSA_JWK)
    assert (rsa.kid, rsa.use, rsa.key_type, rsa.is_private) == (COOKBOOK_KID, "sig", "RSA", True)
    ec = tw.JWK.from_json(COOKBOOK_EC_JWK)
    assert (ec.kid, ec.use, ec.key_type, ec.curve) == (COOKBOOK_KID, "sig", "EC", "P-521")
    hmac = tw.JWK.from_json(COOKBOOK_HMAC_JWK)
    assert (hmac.kid, hmac.algorithm, hmac.key_type) == (
        "018c0ae5-4d9b-471b-bfd6-eef314bc7037",
        "HS256",
        "oct",
    )


def test_rfc7520_4_1_rs256_reproduced_and_verified() -> None:
    key = tw.JWK.from_json(COOKBOOK_RSA_JWK)
    signing_input, payload, signature = split(C41_TOKEN)
    assert payload == COOKBOOK_PAYLOAD
    assert tw.unverified_header(C41_TOKEN) == {"alg": "RS256", "kid": COOKBOOK_KID}
    assert _core._sign_raw("RS256", key, signing_input) == signature
    keys = cookbook_set(COOKBOOK_RSA_JWK, RSA_PRIVATE)
    verifier = tw.Verifier(keys, algorithms=["RS256"])
    assert verifier.verify_signature(C41_TOKEN) == COOKBOOK_PAYLOAD
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(C41_TOKEN))
    # The payload is text, not a claims set.
    with pytest.raises(tw.MalformedTokenError):
        verifier.verify(C41_TOKEN)


def test_rfc7520_4_2_ps384_verified() -> None:
    keys = cookbook_set(COOKBOOK_RSA_JWK, RSA_PRIVATE)
    assert tw.unverified_header(C42_TOKEN) == {"alg": "PS384", "kid": COOKBOOK_KID}
    verifier = tw.Verifier(keys, algorithms=["PS384"])
    assert verifier.verify_signature(C42_TOKEN) == COOKBOOK_PAYLOAD
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(C42_TOKEN))
    signing_input, _, signature = split(C42_TOKEN)
    public = tw.JWK.from_json(without_private(COOKBOOK_RSA_JWK, RSA_PRIVATE))
    assert _core._verify_raw("PS384", public, signing_input, signature) is True
    assert _core._verify_raw("PS256", public, signing_input, signature) is False
    assert _core._verify_raw("RS384", public, signing_input, signature) is False
    # PS384 is not allowed by an RS256-only verifier.
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(keys, algorithms=["RS256"]).verify_signature(C42_TOKEN)


def test_rfc7520_4_2_ps384_own_signature_verifies() -> None:
    key = tw.JWK.from_json(COOKBOOK_RSA_JWK)
    signing_input, _, rfc_signature = split(C42_TOKEN)
    signature = _core._sign_raw("PS384", key, signing_input)
    assert len(signature) == 256
    assert signature != rfc_signature  # PSS salt is random
    assert _core._verify_raw("PS384", key.public(), signing_input, signature) is True


def test_rfc7520_4_3_es512_verified() -> None:
    keys = cookbook_set(COOKBOOK_EC_JWK, ("d",))
    assert tw.unverified_header(C43_TOKEN) == {"alg": "ES512", "kid": COOKBOOK_KID}
    verifier = tw.Verifier(keys, algorithms=["ES512"])
    assert verifier.verify_signature(C43_TOKEN) == COOKBOOK_PAYLOAD
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(C43_TOKEN))
    signing_input, _, signature = split(C43_TOKEN)
    public = tw.JWK.from_json(without_private(COOKBOOK_EC_JWK, ("d",)))
    assert _core._verify_raw("ES512", public, signing_input, signature) is True
    key = tw.JWK.from_json(COOKBOOK_EC_JWK)
    own = _core._sign_raw("ES512", key, signing_input)
    assert len(own) == 132
    assert _core._verify_raw("ES512", public, signing_input, own) is True


def test_rfc7520_4_4_hs256_reproduced_and_verified() -> None:
    key = tw.JWK.from_json(COOKBOOK_HMAC_JWK)
    signing_input, payload, signature = split(C44_TOKEN)
    assert payload == COOKBOOK_PAYLOAD
    assert tw.unverified_header(C44_TOKEN) == {
        "alg": "HS256",
        "kid": "018c0ae5-4d9b-471b-bfd6-eef314bc7037",
    }
    assert _core._sign_raw("HS256", key, signing_input) == signature
    assert _core._hmac("HS256", b64u_decode(COOKBOOK_HMAC_JWK["k"]), signing_input) == signature
    verifier = tw.Verifier(tw.JWKSet([key]), algorithms=["HS256"])
    assert verifier.verify_signature(C44_TOKEN) == COOKBOOK_PAYLOAD
    with pytest.raises(tw.InvalidSignatureError):
        verifier.verify_signature(flip_last_signature_byte(C44_TOKEN))


def test_rfc7520_kid_selects_key_in_a_set() -> None:
    # The cookbook RSA key under its kid plus an unrelated RSA key with another kid:
    # the token's kid picks the right one.
    other_jwk: dict[str, Any] = tw.JWK.generate("RS256").public().to_dict()
    other_jwk["kid"] = "someone.else@hobbiton.example"
    keys = tw.JWKSet(
        [
            tw.JWK.from_json(other_jwk),
            tw.JWK.from_json(without_private(COOKBOOK_RSA_JWK, RSA_PRIVATE)),
        ]
    )
    verifier = tw.Verifier(keys, algorithms=["RS256", "PS384"])
    assert verifier.verify_signature(C41_TOKEN) == COOKBOOK_PAYLOAD
    assert verifier.verify_signature(C42_TOKEN) == COOKBOOK_PAYLOAD
    only_other = tw.Verifier(tw.JWKSet([tw.JWK.from_json(other_jwk)]), algorithms=["RS256"])
    with pytest.raises(tw.KeyNotFoundError):
        only_other.verify_signature(C41_TOKEN)


# --------------------------------------------------------------------------------------------
# RFC 7638 section 3.1
# --------------------------------------------------------------------------------------------


def test_rfc7638_thumbprint() -> None:
    key = tw.JWK.from_json(RFC7638_JWK)
    assert key.thumbprint() == RFC7638_THUMBPRINT
    assert key.kid == "2011-04-29"
    assert key.algorithm == "RS256"
    # Optional members do not change the thumbprint.
    bare = {name: RFC7638_JWK[name] for name in ("kty", "n", "e")}
    assert tw.JWK.from_json(bare).thumbprint() == RFC7638_THUMBPRINT
    assert tw.JWK.from_json(json.dumps(bare)).thumbprint() == RFC7638_THUMBPRINT


def test_rfc7638_thumbprint_of_rfc7520_and_rfc7515_keys_is_stable() -> None:
    # Private and public forms of a key share one thumbprint.
    for jwk, private in (
        (A2_JWK, RSA_PRIVATE),
        (A3_JWK, ("d",)),
        (A4_JWK, ("d",)),
        (COOKBOOK_RSA_JWK, RSA_PRIVATE),
        (COOKBOOK_EC_JWK, ("d",)),
    ):
        full = tw.JWK.from_json(jwk)
        public = tw.JWK.from_json(without_private(jwk, private))
        assert full.thumbprint() == public.thumbprint() == full.public().thumbprint()
