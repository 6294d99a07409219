"""The house rule: core/ imports no framework or device library."""

import ast
from pathlib import Path

BANNED = {"flask", "flask_socketio", "socketio", "celery", "kombu", "panoramisk", "gammu", "vosk", "smtplib", "imaplib",
          "redis", "werkzeug", "waitress"}  # fmt: skip
CORE = Path(__file__).resolve().parents[2] / "core"


def test_core_imports_no_framework() -> None:
    """Every module under core/ is free of framework and device imports."""
    offenders: list[str] = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in BANNED]
    assert offenders == []
    assert len(list(CORE.rglob("*.py"))) > 10
