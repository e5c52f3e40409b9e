"""Instructions per request of the benchmark app's routes, counted by callgrind.

    python -m benchmarks.callgrind_request                    # custom provider (HS256)
    python -m benchmarks.callgrind_request --provider cognito --requests 2000
    python -m benchmarks.callgrind_request --api-key         # Bearer vk_… instead of a token

The app of :mod:`benchmarks.fastapi_app` is called through ASGI in this process (no server, as
``benchmarks.e2e --in-process`` does) under ``valgrind --tool=callgrind``. After a warm-up, each
route's requests run as one section; a call to ``getppid()`` (which nothing else here makes)
starts each section, and callgrind dumps its counters there (``--dump-before=getppid``), so each
dump holds exactly one section. Instruction counts do not depend on the machine's load, so runs
made at different times compare; the figure the FastAPI target is about is ``/protected`` over
``/dependency-only``, both right after ``/open`` (a failed route match costs about 11 k).

Prints JSON: instructions per request of each section, and the differences.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._callgrind import mark, section_counts

# Each section: (app, path); "swapped" has /dependency-only right after /open.
SECTIONS = [
    ("app", "/open"),
    ("app", "/protected"),
    ("app", "/dependency-only"),
    ("swapped", "/dependency-only"),
]


async def _inside(provider: str, requests: int, warm_up: int, api_key: bool) -> None:
    from benchmarks.e2e import DEBUG_EMAIL, DEBUG_PASSWORD, _asgi_get, provider_setup
    from benchmarks.fastapi_app import create_app
    from tokenward.fastapi import Auth, AuthSettings

    with tempfile.TemporaryDirectory(prefix="tokenward-cg-") as tmp:
        with provider_setup(provider, Path(tmp)) as setup:
            values = {k.removeprefix("TOKENWARD_").lower(): v for k, v in setup.env.items()}
            auth = Auth(AuthSettings.from_env(prefix="TOKENWARD_CALLGRIND_", **values))
            apps = {
                "app": create_app(auth, dependency_first=False),
                "swapped": create_app(auth, dependency_first=True),
            }
            async with auth.lifespan(apps["app"]):
                auth.install(apps["swapped"])
                token = setup.token
                if token is None:
                    pair = await auth.login(DEBUG_EMAIL, DEBUG_PASSWORD)
                    assert pair is not None
                    token = pair.access_token
                if api_key:
                    from tokenward.principal import Principal

                    assert auth.api_keys is not None
                    owner = Principal(subject="bench-owner", credential_type="access_token")
                    token = (await auth.api_keys.create(owner, name="bench")).key
                for name, path in SECTIONS:
                    for _ in range(warm_up):
                        status = await _asgi_get(apps[name], path, token)
                        if status != 200:
                            raise RuntimeError(f"{path} answered {status}")
                for name, path in SECTIONS:
                    mark()
                    for _ in range(requests):
                        await _asgi_get(apps[name], path, token)
                mark()


def measure(provider: str, requests: int, warm_up: int, api_key: bool = False) -> dict[str, Any]:
    """Run this module under callgrind and read its dumps."""
    args = ["--provider", provider, "--requests", str(requests), "--warm-up", str(warm_up)]
    args += ["--api-key"] if api_key else []
    counts = section_counts("benchmarks.callgrind_request", args, len(SECTIONS))
    per = {f"{name} {path}": n / requests for (name, path), n in zip(SECTIONS, counts, strict=True)}
    return {
        "provider": provider,
        "credential": "api_key" if api_key else "access_token",
        "requests": requests,
        "instructions_per_request": per,
        "protected_minus_dependency_only_same_position": per["app /protected"]
        - per["swapped /dependency-only"],
        "protected_minus_open": per["app /protected"] - per["app /open"],
        "route_match": per["app /dependency-only"] - per["swapped /dependency-only"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", default="custom", choices=("custom", "cognito"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--api-key", action="store_true", help="send an API key (Bearer vk_…)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        asyncio.run(_inside(args.provider, args.requests, args.warm_up, args.api_key))
        return 0
    result = measure(args.provider, args.requests, args.warm_up, args.api_key)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
