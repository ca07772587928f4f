"""The layers, by package: a lower layer never imports a higher one (ARCHITECTURE.md).

    core → config → adapters {dropfolder, ledger, datastore, publish, portal} → run
         → tools {sync, admin, demo} → cli

Among the tools, ``admin`` may import ``sync`` (``link`` reuses the mapping step) and ``demo``
may import both; ``sync`` imports neither. Adapters import each other only along the edges in
``ADAPTER_EDGES``. Only ``cli`` imports click or rich. ``sandbox`` is exempt, except that it
never imports ``cli``. Imports under ``if TYPE_CHECKING:`` are not dependencies, except for the
click/rich rule, which counts every import. Relative imports are resolved and checked too.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cyverse_link"
ROOT = "cyverse_link"
TOP_LEVEL_FILES = {"__init__.py", "__main__.py"}  # nothing else sits loose in cyverse_link/

ADAPTERS = ("dropfolder", "ledger", "datastore", "publish", "portal")
TOOLS = ("sync", "admin", "demo")
LAYERS = {"core": 0, "config": 1, **dict.fromkeys(ADAPTERS, 2), "run": 3}
LAYERS |= {**dict.fromkeys(TOOLS, 4), "cli": 5}
EXEMPT = ("sandbox",)  # test servers: not layered, but never the CLI

# Adapter → adapter imports as the tree has them (importing file, imported module). A new edge
# between adapters is a design decision: add it here on purpose, or route it through ``run``.
ADAPTER_EDGES = {
    ("portal/api.py", "cyverse_link.ledger.media"),  # api mode's MediaRecords
}

# (importing package, packages it must never import, why)
NEVER = [
    ("config", {*ADAPTERS, "run", *TOOLS, "cli", *EXEMPT}, "config is the layer above core"),
    *((a, {"run", *TOOLS, "cli", *EXEMPT}, "adapters sit below run and tools") for a in ADAPTERS),
    ("run", {*TOOLS, "cli", *EXEMPT}, "run sits below the tools"),
    ("sync", {"admin", "demo", "cli", *EXEMPT}, "sync is the lowest tool"),
    ("admin", {"demo", "cli", *EXEMPT}, "admin may use sync, never demo or cli"),
    ("demo", {"cli"}, "demo sits below cli"),
    ("sandbox", {"cli"}, "the sandbox is exempt, but never imports the CLI"),
]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_of(path: Path) -> list[str]:
    parts = [ROOT, *path.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports_of(path: Path, *, type_checking: bool = False) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved); the bodies
    of ``if TYPE_CHECKING:`` are skipped unless ``type_checking``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not type_checking:
        for node in ast.walk(tree):  # imports for type checking only are not dependencies
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the importing module's package
                package = _module_of(path)
                if path.name != "__init__.py":
                    package = package[:-1]
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            if module == ROOT:  # ``from cyverse_link import sync`` imports the package sync
                found.update(
                    f"{ROOT}.{alias.name}"
                    for alias in node.names
                    if (PACKAGE / alias.name).is_dir() or (PACKAGE / f"{alias.name}.py").is_file()
                )
    return found


def package_of_module(module: str) -> str | None:
    """``cyverse_link.<package>...`` → ``<package>``; ``""`` for the root; None outside."""
    parts = module.split(".")
    if parts[0] != ROOT:
        return None
    return parts[1] if len(parts) > 1 else ""


def package_of_file(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


def files(package: str | None = None) -> list[Path]:
    return sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts and package in (None, package_of_file(p))
    )


def internal_imports(package: str) -> Iterator[tuple[str, str, str]]:
    """(file, imported module, imported package) for each ``cyverse_link`` import of a package."""
    for path in files(package):
        for module in sorted(imports_of(path)):
            target = package_of_module(module)
            if target is not None:
                yield str(path.relative_to(PACKAGE)), module, target


def test_no_module_sits_loose_at_the_top() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose == TOP_LEVEL_FILES, (
        f"modules at the top of cyverse_link/: {sorted(loose - TOP_LEVEL_FILES)}; "
        "put each in the package of its layer"
    )


def test_every_package_has_a_layer() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    unplaced = packages - set(LAYERS) - set(EXEMPT)
    assert not unplaced, f"packages without a layer in tests/unit/test_layers.py: {unplaced}"
    assert set(LAYERS) | set(EXEMPT) <= packages, "a layer names a package that is gone"


@pytest.mark.parametrize("path", files("core"), ids=lambda p: str(p.relative_to(PACKAGE / "core")))
def test_core_imports_only_stdlib_and_core(path: Path) -> None:
    for module in imports_of(path):
        if module.split(".")[0] == ROOT:
            assert package_of_module(module) == "core", f"core/{path.name} imports {module}"
        else:
            assert module.split(".")[0] in sys.stdlib_module_names, (
                f"core module {path.name} imports {module} (core uses the standard library only)"
            )


@pytest.mark.parametrize(
    ("package", "forbidden", "why"), NEVER, ids=[f"{p}-never" for p, _, _ in NEVER]
)
def test_package_never_imports_a_higher_layer(package: str, forbidden: set[str], why: str) -> None:
    offenders = [
        f"{path}: {module}"
        for path, module, target in internal_imports(package)
        if target in forbidden
    ]
    assert offenders == [], f"{package}/ imports what it must not ({why})"


def test_config_imports_only_core_stdlib_and_third_party() -> None:
    offenders = [
        f"{path}: {module}"
        for path, module, target in internal_imports("config")
        if target not in ("core", "config")
    ]
    assert offenders == []


def test_adapters_import_each_other_only_along_the_known_edges() -> None:
    edges = {
        (path, module)
        for adapter in ADAPTERS
        for path, module, target in internal_imports(adapter)
        if target in ADAPTERS and target != adapter
    }
    assert edges <= ADAPTER_EDGES, (
        f"new adapter → adapter imports {sorted(edges - ADAPTER_EDGES)}: add them to "
        "ADAPTER_EDGES in tests/unit/test_layers.py on purpose, or move the code up to run/"
    )
    assert edges >= ADAPTER_EDGES, (
        f"ADAPTER_EDGES lists imports that are gone: {sorted(ADAPTER_EDGES - edges)}; remove them"
    )


def test_each_package_imports_only_its_own_layer_and_below() -> None:
    """The whole order in one place; ``admin`` → ``sync``, ``demo`` → ``sync``/``admin``/
    ``sandbox``, the root ``cyverse_link`` (``__version__``) and ADAPTER_EDGES are allowed."""
    allowed_sideways = {("admin", "sync"), ("demo", "sync"), ("demo", "admin")}
    offenders = []
    for package, layer in LAYERS.items():
        for path, module, target in internal_imports(package):
            if target == package or (path, module) in ADAPTER_EDGES:
                continue
            if target == "":
                ok = layer >= LAYERS["dropfolder"]
            elif target in EXEMPT:
                ok = package in ("demo", "cli")
            else:
                ok = LAYERS[target] < layer or (package, target) in allowed_sideways
            if not ok:
                offenders.append(f"{path}: {module}")
    assert offenders == []


def test_only_the_cli_package_imports_click_or_rich() -> None:
    """Every file (the sandbox too), every import (TYPE_CHECKING ones too)."""
    offenders = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in files()
        if package_of_file(path) != "cli"
        for module in imports_of(path, type_checking=True)
        if module.split(".")[0] in ("click", "rich")
    ]
    assert offenders == []
    roots = {m.split(".")[0] for m in imports_of(PACKAGE / "cli" / "app.py", type_checking=True)}
    assert roots & {"click", "rich"} == {"click"}
