"""Reading and checking the bodies of the auth routes, shared by every router of
:mod:`tokenward.fastapi` (``router``, ``accounts_router``, ``mfa_router``, ``passkeys_router``):
internal, not part of the public API.

:func:`read_fields` reads a JSON object or a urlencoded form, bounded (:data:`MAX_BODY_BYTES`)
and strict (:func:`decode_json`: no NaN, no number beyond a double, no NUL or lone surrogate);
:func:`validate` checks it against a model with a 422 that echoes no input; :func:`error_doc`
and :func:`body_doc` describe the answers and the body in OpenAPI.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from tokenward.fastapi import errors
from tokenward.stores.base import unstorable

__all__ = [
    "FORM_TYPE",
    "JSON_TYPE",
    "MAX_BODY_BYTES",
    "body_doc",
    "decode_json",
    "error_doc",
    "grant_type",
    "read_body",
    "read_fields",
    "validate",
]

MAX_BODY_BYTES = 16 * 1024

M = TypeVar("M", bound=BaseModel)

_TOO_LARGE = 413  # named differently across Starlette versions
_UNPROCESSABLE = 422

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


def body_doc(model: type[BaseModel], form_schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI's ``requestBody`` of a route that takes ``model`` as JSON or ``form_schema`` as
    a urlencoded form."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON_TYPE: {"schema": model.model_json_schema()},
                FORM_TYPE: {"schema": form_schema},
            },
        }
    }


def error_doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI's ``responses`` for the error ``codes`` a route answers."""
    text = {
        400: "The body could not be read",
        401: "Not authenticated, or the credentials or token are not valid",
        403: "Signed in with an API key: sessions are managed with an access token",
        413: "The body is too large",
        415: "The body is neither JSON nor a urlencoded form",
        422: "The body lacks a field or has one of the wrong type",
        429: "Too many attempts: wait for Retry-After seconds",
        503: "The session store is unavailable",
    }
    return {code: {"description": text[code]} for code in codes}


async def read_body(request: Request) -> bytes:
    """The body, at most :data:`MAX_BODY_BYTES` (413 beyond, 400 when the client left)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise errors.bad_request(
            f"The body must be at most {MAX_BODY_BYTES} bytes.",
            _TOO_LARGE,
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise errors.bad_request(
                    f"The body must be at most {MAX_BODY_BYTES} bytes.",
                    _TOO_LARGE,
                )
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away mid-body: nobody is left to answer, and it is not our error.
        raise errors.bad_request("The client disconnected before sending the whole body.") from None
    return b"".join(chunks)


_NUMBER = "a number that is not finite, or beyond the range of a double"
_UNSTORABLE = (
    "a string with a NUL character or a lone surrogate (a UTF-16 escape without its pair), "
    "which no store can hold"
)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(_NUMBER)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(_NUMBER)


def has_unstorable(data: Any) -> bool:
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if unstorable(item):
                return True
        elif isinstance(item, dict):
            pending += item
            pending += item.values()
        elif isinstance(item, list):
            pending += item
    return False


def decode_json(body: bytes | str) -> Any:
    """``body`` as JSON, strictly. json.JSONDecodeError when it is not JSON; ValueError (with
    a message that quotes nothing of the body) when it holds a number no double can hold
    (``NaN``, ``Infinity``, ``1e999``, an integer of thousands of digits), or a NUL or a lone
    surrogate in a string or a name: values no application or store can use (see
    :func:`tokenward.stores.base.unstorable`), and that no answer could echo."""
    try:
        data = json.loads(body, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None
    except UnicodeDecodeError:
        raise json.JSONDecodeError("not UTF-8", "", 0) from None
    except ValueError:  # the hooks', and int()'s for thousands of digits
        raise ValueError(_NUMBER) from None
    if has_unstorable(data):
        raise ValueError(_UNSTORABLE)
    return data


def unprocessable_json(reason: str) -> HTTPException:
    problem = {"loc": [0], "msg": "JSON decode error", "type": "json_invalid"}
    return HTTPException(
        _UNPROCESSABLE,
        detail=errors.validation_detail([{**problem, "ctx": {"error": reason}}], ("body",)),
    )


async def read_fields(request: Request, empty: bool = False) -> tuple[dict[str, Any], bool]:
    """The body as a dict of fields, and whether it came as a form (``empty``: an empty JSON
    body is ``{}``, for a refresh or logout whose token is in a cookie)."""
    media_type = request.headers.get("content-type", JSON_TYPE).split(";", 1)[0].strip().lower()
    body = await read_body(request)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request("The body must be UTF-8.") from None
    if media_type == FORM_TYPE:
        try:
            parsed = urllib.parse.parse_qs(
                text, keep_blank_values=True, strict_parsing=False, max_num_fields=16
            )
        except ValueError:
            raise errors.bad_request("The form has too many fields.") from None
        fields = {key: values[0] for key, values in parsed.items() if values}
        if has_unstorable(fields):
            problem = {"loc": [], "msg": f"The form holds {_UNSTORABLE}", "type": "value_error"}
            raise HTTPException(
                _UNPROCESSABLE, detail=errors.validation_detail([problem], ("body",))
            )
        return fields, True
    if media_type in (JSON_TYPE, "") or media_type.endswith("+json"):
        try:
            data = decode_json(text) if text.strip() else ({} if empty else None)
        except json.JSONDecodeError:
            raise errors.bad_request("The body is not valid JSON.") from None
        except ValueError as exc:
            raise unprocessable_json(str(exc)) from None
        if not isinstance(data, dict):
            raise errors.bad_request("The body must be a JSON object.")
        return data, False
    raise errors.bad_request(
        f"Send the body as {JSON_TYPE} (or {FORM_TYPE}).", status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    )


def validate(model: type[M], data: dict[str, Any]) -> M:
    """``data`` as ``model``; a 422 whose detail leaves the inputs out (a password, perhaps)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # The inputs are left out: they may hold a password.
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        detail = errors.validation_detail(problems, ("body",))
        raise HTTPException(_UNPROCESSABLE, detail=detail) from None


def grant_type(data: dict[str, Any], expected: str) -> None:
    """400 when a form's ``grant_type`` is given and is not ``expected`` (RFC 6749)."""
    grant = data.get("grant_type")
    if grant is not None and grant != expected:
        raise errors.bad_request(f"grant_type must be {expected!r} here.")
