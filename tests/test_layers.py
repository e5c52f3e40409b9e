"""The package's shape: no import cycle anywhere (TYPE_CHECKING imports included), the layers
import one way down, and the core imports without FastAPI installed."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "tokenward"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    """Every module of the package; the native ``_core`` by its hand-written stub."""
    found = {_module_name(p): p for p in PACKAGE.rglob("*.pyi")}
    found.update({_module_name(p): p for p in PACKAGE.rglob("*.py")})
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module of ours that ``name`` names (a submodule when it is one), or None."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of ours it imports, every import statement counted (inside
    functions and ``if TYPE_CHECKING:`` blocks too). ``from a import b`` counts as importing
    ``a.b`` when that is a module. A submodule's implicit import of its parent package is not an
    edge: every package would be a cycle with the modules its ``__init__`` re-exports."""
    known = _modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
                # ``from a import b``: the submodule a.b if it is one, else the module a.
                targets = [t for t in targets[:-1] if t in known] or [base]
            for target in targets:
                resolved = _resolve(target, known)
                if resolved is not None and resolved != name:
                    graph[name].add(resolved)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_type_checking_and_function_imports(tmp_path: Path) -> None:
    graph = import_graph()
    # tokenward.strategies imports CognitoVerifier only under TYPE_CHECKING.
    assert "tokenward.cognito" in graph["tokenward.strategies"]
    # tokenward.fastapi.auth imports the errors module through ``from tokenward.fastapi import``.
    assert "tokenward.fastapi.errors" in graph["tokenward.fastapi.auth"]


def test_no_import_cycle_under_the_package() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


# The layers, lowest first: a module may import only from its own layer or below (see
# docs/architecture.md). Each entry is a module or a package prefix.
LAYERS: list[tuple[str, ...]] = [
    ("tokenward._core", "tokenward.exceptions", "tokenward.keysource"),
    (
        "tokenward.authsecrets",  # AUTH_SECRET and AUTH_SECRET_PREVIOUS
        "tokenward.principal",
        "tokenward.caches",  # the per-token memos (PrincipalMemo, ViewMemo) and their rules
        "tokenward.rbac",
        "tokenward._api",
        "tokenward.jwks",
        "tokenward._verifier",
        "tokenward.keyring",  # a key source that builds verifiers of its own tokens
        "tokenward.passwords",  # Argon2id hashes and the password policy
        "tokenward.users",  # email normalisation, shared by the account code above the stores
        "tokenward.smtp",  # the built-in SMTP sender of account mail (SMTP_URL), aiosmtplib
    ),
    ("tokenward.cognito", "tokenward.oidc", "tokenward.stores"),
    (
        "tokenward.sessions",
        "tokenward.rotation",  # refresh rotation and reuse detection, over any store
        "tokenward.tokens",
        "tokenward.settings",
        "tokenward.apikeys",
        "tokenward.ratelimit",
        "tokenward.access",
        "tokenward.mfa",
        "tokenward.mail",  # how account mail leaves: on_send, SMTP, the log in development
        "tokenward.signin",  # the seams between the ways of proving who one is and a session
        "tokenward.oauth",  # sign-in with an external provider (Google, GitHub, any OIDC)
        "tokenward.passkeys",  # WebAuthn ceremonies (py_webauthn) over the passkey store
    ),
    (
        "tokenward.providers",
        "tokenward.strategies",
        "tokenward.issuer",
        "tokenward.secondfactor",  # TOTP enrolment, the challenge, step-up (docs/mfa.md)
        "tokenward.accounts",  # sign-up, password sign-in, verification, reset, admin
    ),
    ("tokenward.authenticator", "tokenward.services"),  # services: the service graph
    ("tokenward.fastapi",),
    (
        "tokenward",
        "tokenward.cli",
        "tokenward.cli_users",
    ),  # the public API's re-exports, and the command line on top
]


def _layer(module: str) -> int:
    best, best_len = len(LAYERS), -1
    for index, names in enumerate(LAYERS):
        for name in names:
            matches = module == name or module.startswith(name + ".")
            if matches and len(name) > best_len:
                best, best_len = index, len(name)
    return best


def test_layers_import_one_way_down() -> None:
    wrong = []
    for module, imports in import_graph().items():
        for target in imports:
            if _layer(target) > _layer(module):
                wrong.append(f"{module} (layer {_layer(module)}) imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_nothing_below_fastapi_imports_fastapi() -> None:
    offenders = []
    for name, path in _modules().items():
        if name.startswith("tokenward.fastapi"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                mods = [node.module]
            offenders += [
                f"{name}: {m}" for m in mods if m.split(".")[0] in ("fastapi", "starlette")
            ]
    assert not offenders, offenders


@pytest.mark.parametrize(
    "modules",
    [
        "tokenward",
        "tokenward.principal",
        "tokenward.caches",
        "tokenward.stores",
        "tokenward.stores.sqlite",
        "tokenward.strategies",
        "tokenward.authenticator",
        "tokenward.providers",
        "tokenward.tokens",
        "tokenward.sessions",
        "tokenward.rotation",  # refresh rotation and reuse detection, over any store
        "tokenward.apikeys",
        "tokenward.ratelimit",
        "tokenward.issuer",
        "tokenward.passwords",
        "tokenward.cli",
    ],
)
def test_the_core_imports_without_fastapi(modules: str) -> None:
    """A fresh interpreter in which fastapi, starlette, pydantic and httpx cannot be imported
    (as in a venv with only ``pip install tokenward``) still imports the core."""
    code = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"fastapi", "starlette", "pydantic", "pydantic_settings",
                                          "httpx", "psycopg", "psycopg_pool"}}:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)")
                return None

        sys.meta_path.insert(0, Block())
        import {modules}
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in {{"fastapi", "pydantic"}})
        assert not leaked, leaked
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_the_fastapi_routers_share_their_body_helpers_through_one_module() -> None:
    """The routers of tokenward.fastapi import no private name from one another: what they
    share (reading and checking bodies, OpenAPI's error answers) lives in fastapi/_forms.py,
    the answers of a sign-in or a step-up in fastapi/_answers.py, under public names."""
    wrong = []
    for path in (PACKAGE / "fastapi").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "tokenward.fastapi"
            ):
                wrong += [
                    f"{path.name}: from {node.module} import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert not wrong, "\n".join(sorted(wrong))
