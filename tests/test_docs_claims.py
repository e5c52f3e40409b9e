"""What README.md and docs/*.md say about today's behaviour, held to it where a reader tripped."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_docs_that_were_wrong() -> None:
    """Issue 20 item 26: authorization.md said API keys were "arriving", cli.md that
    ``keys rotate`` came "later", api-keys.md that the key routes "need an access token" (Basic
    works too), and the wheel's bundled libraries left out libsodium."""
    assert "arriving" not in _read("docs/authorization.md")
    assert "later `keys rotate`" not in _read("docs/cli.md")
    assert "need an **access token**" not in _read("docs/api-keys.md")
    assert "HTTP Basic" in _read("docs/api-keys.md")
    bundled = [line for line in _read("docs/architecture.md").splitlines() if "**Bundled**" in line]
    assert bundled and "libsodium" in bundled[0]
    assert "libsodium bundled" in _read("README.md")


def test_the_first_fastapi_example_works_under_cognito() -> None:
    """Issue 20 item 26: fastapi.md's first example returned ``user.email``, which a Cognito
    access token does not carry."""
    text = _read("docs/fastapi.md")
    first = re.search(r"```python\n(.*?)```", text, re.S)
    assert first is not None
    assert "user.email" not in first.group(1).replace("user.email is None", "")


def test_install_docs_has_one_spelling() -> None:
    """Issue 20 item 26: ``install_docs(app)`` and ``auth.install_docs(app)`` were two spellings of
    one thing; the function from ``tokenward.fastapi`` is the one left."""
    from tokenward.fastapi import Auth, install_docs
    from tokenward.fastapi.docs import install_docs as original

    assert install_docs is original
    assert not hasattr(Auth, "install_docs")
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("examples/*.py")]:
        assert ".install_docs(" not in path.read_text(encoding="utf-8").replace(
            "auth.install_docs(app)` is gone", ""
        ), path


def test_import_tokenward_fastapi_without_the_extra_says_how_to_install_it() -> None:
    """Issue 20 item 26: without the fastapi extra, ``import tokenward.fastapi`` raised
    ``No module named 'fastapi'``; it says ``pip install 'tokenward[fastapi]'``."""
    code = textwrap.dedent(
        """
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"fastapi", "starlette", "pydantic", "pydantic_settings"}:
                    raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
                return None

        sys.meta_path.insert(0, Block())
        try:
            import tokenward.fastapi
        except ImportError as exc:
            print(type(exc).__name__, exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'tokenward[fastapi]'" in result.stdout, result.stdout
    assert result.stdout.startswith("ImportError tokenward.fastapi needs the fastapi extra")
