"""Digests of the code a job runs, so Snakemake reruns a stage when any of it changes; file hashes for tables.

Snakemake's "code" rerun trigger sees a rule's script, not the package modules the
script calls. `code_digest(script)` hashes every `vidseg` module in the script's
import closure, found by reading the source with `ast` (nothing is imported, so
TensorFlow stays out of the DAG build): `import` and `from ... import` anywhere in
a module (imports inside functions count), the parent packages each import runs,
and string literals naming a `vidseg` module (`importlib.import_module` targets,
e.g. the lazy names of `vidseg.maskrcnn`). A hand-written list per stage drifted
from what the stages import; this follows the code.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from pathlib import Path

PACKAGE = "vidseg"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # vidseg/ (this module is vidseg/core/provenance.py)
MODULE_NAME = re.compile(rf"{PACKAGE}(\.\w+)+")


def module_path(module: str) -> Path | None:
    """The source file of a `vidseg` module (a package's `__init__.py`), or None if there is none."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _nodes(tree: ast.AST):
    """Every node of `tree` except the bodies of `if TYPE_CHECKING:` (imports that never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if _is_type_checking(node):
            todo += node.orelse
        else:
            todo += ast.iter_child_nodes(node)


def imported_modules(path: str | Path, module: str = "") -> set[str]:
    """The `vidseg` modules that the source at `path` (module `module`, "" for a script) imports or names."""
    path = Path(path)
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_bytes(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                package = _package_of(module, path).split(".")
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]  # `from pkg import submodule`
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
            names = [node.value]
        for name in names:
            if name.split(".")[0] == PACKAGE and module_path(name) is not None:
                found.update(p for p in _parents(name) if module_path(p) is not None)
    return found


@lru_cache(maxsize=None)
def _imports_of_module(module: str) -> frozenset[str]:
    """`imported_modules` of a `vidseg` module, read once a process: the closures of the stages share most modules
    (reading each once per stage cost every Snakemake start 0.17 s more: docs/benchmarks.md)."""
    return frozenset(imported_modules(module_path(module), module))


@lru_cache(maxsize=None)
def _closure_of_module(module: str) -> frozenset[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += _imports_of_module(current) - seen
    return frozenset(seen)


def forget_imports() -> None:
    """Read the modules' imports afresh at the next digest (for a process that edits them)."""
    _imports_of_module.cache_clear()
    _closure_of_module.cache_clear()


def import_closure(script: str | Path) -> list[str]:
    """Every `vidseg` module that running `script` can import, sorted."""
    closure: set[str] = set()
    for module in imported_modules(script):
        closure |= _closure_of_module(module)
    return sorted(closure)


def _digest(modules: list[str]) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(f"{module}\n".encode())
        digest.update(module_path(module).read_bytes())
    return digest.hexdigest()[:16]


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file (as `sha256sum` prints it), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def module_digest(module: str) -> str:
    """A short hash of the source of `module` (e.g. "vidseg.report") and of every `vidseg` module it can import."""
    return _digest(sorted(_closure_of_module(module)))


def code_digest(script: str | Path) -> str:
    """A short hash of the source of every `vidseg` module in `script`'s import closure."""
    return _digest(import_closure(script))

