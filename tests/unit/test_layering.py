"""Only the ``cyverse_link.cli`` package may import click or rich (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cyverse_link"
UI_LIBRARIES = {"click", "rich"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_cli_package_imports_click_or_rich() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_imported_roots(path) & UI_LIBRARIES)
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts[:1] and _imported_roots(path) & UI_LIBRARIES
    }
    assert offenders == {}
    assert _imported_roots(PACKAGE / "cli" / "app.py") & UI_LIBRARIES == {"click"}
