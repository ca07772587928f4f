"""Dependency arrows point one way: cli → pipeline → adapters → core (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cyverse_link"
CORE = ["errors", "models", "naming", "identifiers", "urls", "events"]
ADAPTERS = ("cyverse_link.datastore", "cyverse_link.portal", "cyverse_link.publish")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):  # imports for type checking only are not dependencies
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def module_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.parts)


@pytest.mark.parametrize("name", CORE)
def test_core_imports_only_stdlib_and_core(name: str) -> None:
    for module in imports_of(PACKAGE / f"{name}.py"):
        top = module.split(".")[0]
        if top == "cyverse_link":
            assert module.removeprefix("cyverse_link.") in CORE, f"{name} imports {module}"
        else:
            assert top in sys.stdlib_module_names, f"core module {name} imports {module}"


def test_only_the_cli_imports_click_or_rich() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in module_files()
        if "cli" not in (path.stem, *path.relative_to(PACKAGE).parts[:-1])
        for module in imports_of(path)
        if module.split(".")[0] in ("click", "rich")
    ]
    assert offenders == []


def test_adapters_never_import_the_pipeline_or_cli() -> None:
    upper = ("cyverse_link.sync.pipeline", "cyverse_link.cli", "cyverse_link.run.wiring")
    offenders = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in module_files()
        if ".".join(("cyverse_link", *path.relative_to(PACKAGE).with_suffix("").parts)).startswith(
            ADAPTERS
        )
        for module in imports_of(path)
        if module.startswith(upper)
    ]
    assert offenders == []
