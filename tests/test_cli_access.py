"""``tokenward access check|grant|revoke|parent``, run as a user runs it (a subprocess of the
installed entry point) against a SQLite store and a definition module."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from test_cli import run

DEFINITION = textwrap.dedent(
    """
    from tokenward.access import define_access

    access = define_access(
        entities={
            "organization": {"roles": ["owner", "member"]},
            "project": {"roles": ["manager", "viewer"],
                        "inherits": {"organization:owner": "manager",
                                     "organization:member": "viewer"}},
        },
        entitlements={
            "project:delete": {"roles": ["manager"]},
            "project:export": {"roles": ["manager"], "plans": ["pro"]},
        },
    )
    """
)


def test_access_commands(tmp_path: Path) -> None:
    (tmp_path / "defs.py").write_text(DEFINITION)
    common = ["--store", f"sqlite:///{tmp_path / 'access.db'}"]
    check = ["access", "check", "--definition", "defs:access", "--app-dir", str(tmp_path), *common]

    denied = run(*check, "alice", "project:export", "project:p1")
    assert denied.returncode == 1, denied.stderr
    assert denied.stdout.splitlines() == [
        "denied: alice may not project:export on project:p1",
        "  plan_required: needs one of the plans pro (the plan: none)",
        "  role_required: needs one of the roles manager",
        "  hierarchy_denied: holds no role on the resource or any ancestor",
    ]
    assert run("access", "parent", "project:p1", "organization:o1", *common).returncode == 0
    assert run("access", "grant", "alice", "owner", "organization:o1", *common).stdout == "done\n"
    again = run("access", "grant", "alice", "owner", "organization:o1", *common)
    assert again.stdout == "nothing to change\n"
    allowed = run(*check, "alice", "project:delete", "project:p1")
    assert allowed.returncode == 0
    assert allowed.stdout == "allowed: alice may project:delete on project:p1\n"
    result = run(*check, "alice", "project:export", "project:p1", "--plan", "free", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "allowed": False,
        "reasons": ["plan_required"],
        "required_roles": [],
        "required_plans": ["pro"],
    }
    assert run(*check, "alice", "project:export", "project:p1", "--plan", "pro").returncode == 0
    assert run("access", "revoke", "alice", "owner", "organization:o1", *common).returncode == 0
    assert run(*check, "alice", "project:delete", "project:p1").returncode == 1

    # Usage errors exit 2 and say why.
    cycle = run("access", "parent", "organization:o1", "project:p1", *common)
    assert cycle.returncode == 2 and "cycle" in cycle.stderr
    unknown = run(*check, "alice", "project:fly", "project:p1")
    assert unknown.returncode == 2 and "unknown entitlement 'project:fly'" in unknown.stderr
    bad = run(*check, "alice", "project:delete", "p1")
    assert bad.returncode == 2 and "type:id" in bad.stderr
    wrong = run(
        "access",
        "check",
        "--definition",
        "defs:nothing",
        "--app-dir",
        str(tmp_path),
        *common,
        "alice",
        "project:delete",
        "project:p1",
    )
    assert wrong.returncode == 2
