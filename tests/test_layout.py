"""The package's layout: sub-packages by layer, imports pointing only down, no import cycles.

The import graph is read from the source with `ast` (nothing is imported): every `import` and
`from ... import` of a vidseg module, at module level, inside functions and under `if TYPE_CHECKING:`,
and string literals naming a vidseg module (`importlib.import_module` targets, e.g. vidseg.maskrcnn's
lazy names; dotted names only, so `logging.getLogger("vidseg")` is no import).
"""

import ast
from pathlib import Path

import vidseg

PACKAGE_DIR = Path(vidseg.__file__).resolve().parent

# The layers, top to bottom. A module may import modules of its own sub-package and of any lower layer, never
# of a higher one nor (unless SIDEWAYS says so) of another sub-package of its own layer. `vidseg` itself (its
# __init__: the version) is below them all and imports nothing.
LAYERS = (
    ("cli",),  # the `vidseg` command
    ("report",),
    ("workflow",),
    ("evaluation", "tracking", "inference"),
    ("formats", "media", "maskrcnn"),
    ("core",),
)
SIDEWAYS = {("evaluation", "tracking"), ("formats", "maskrcnn")}  # (importer, imported) within one layer
RANK = {package: len(LAYERS) - i for i, layer in enumerate(LAYERS) for package in layer}
PLANNING = "workflow"  # workflow planning: only it and the layers above it may import it


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def sub_package(module: str) -> str | None:
    """The sub-package (layer table entry) of a vidseg module; None for `vidseg` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imports_of(path: Path, module: str, modules: dict[str, Path], strings: bool = True) -> dict[str, int]:
    """The vidseg modules the source at `path` imports (with a line that does), found with `ast`. A vidseg name
    that is no module here (a module moved away, say) is kept as it is: `missing_modules` reports it."""
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}

    def add(name: str, line: int) -> None:
        if name.split(".")[0] == "vidseg" and name != module:
            found.setdefault(name, line)

    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from package import module`, or `from module import name`: module
                full = f"{base}.{alias.name}"
                add(full if full in modules else base, node.lineno)
        elif (strings and isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value
              and node.value in modules):
            add(node.value, node.lineno)
    return found


def import_graph(strings: bool = True) -> dict[str, dict[str, int]]:
    modules = all_modules()
    return {module: imports_of(path, module, modules, strings) for module, path in modules.items()}


def may_import(importer: str, imported: str) -> bool:
    a, b = sub_package(importer), sub_package(imported)
    if a is None:
        return False  # vidseg/__init__.py imports nothing
    if b is None or a == b:
        return True
    return RANK.get(b, len(LAYERS) + 1) < RANK[a] or (a, b) in SIDEWAYS


def missing_modules(graph: dict[str, dict[str, int]]) -> list[str]:
    modules = all_modules()
    return [f"{a} (line {line}) imports {b}, which is no module" for a, targets in graph.items()
            for b, line in targets.items() if b not in modules]


def upward_imports(graph: dict[str, dict[str, int]]) -> list[str]:
    return [f"{a} (line {line}) imports {b}" for a, targets in graph.items() for b, line in targets.items()
            if not may_import(a, b)]


def planning_imports(graph: dict[str, dict[str, int]]) -> list[str]:
    allowed = {PLANNING} | {package for layer in LAYERS[: [PLANNING in layer for layer in LAYERS].index(True)]
                            for package in layer}
    return [f"{a} (line {line}) imports {b}" for a, targets in graph.items() for b, line in targets.items()
            if sub_package(b) == PLANNING and sub_package(a) not in allowed]


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import cycles of `graph` (Tarjan's strongly connected components of more than one module, and
    modules that import themselves)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # recursive: the graph is a few dozen modules deep at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, {}):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_is_in_a_layer():
    modules = all_modules()
    assert {sub_package(m) for m in modules} - {None} == set(RANK)
    assert [m for m, path in modules.items() if m.count(".") == 1 and path.name != "__init__.py"] == [], \
        "modules directly in vidseg/, outside the sub-packages"
    assert import_graph()["vidseg"] == {}, "vidseg/__init__.py imports nothing"


def test_every_import_names_a_module_here():
    """Not only a name Python would find elsewhere (an installed vidseg of the old layout, say)."""
    assert missing_modules(import_graph()) == []


def test_imports_point_down():
    assert upward_imports(import_graph()) == []


def test_no_module_below_the_workflow_imports_it():
    """Library stages (inference, tracking, evaluation, formats, media, core) do not import workflow planning."""
    assert planning_imports(import_graph()) == []


def test_no_import_cycles():
    """Import statements only, maskrcnn's internals included (its lazy names are strings, imported on use)."""
    assert cycles(import_graph(strings=False)) == []


def test_the_checks_catch_violations():
    """What the old layout had (an import circle, a stage importing workflow planning) and upward imports."""
    graph = {"vidseg.core.errors": {"vidseg.workflow.plan": 1},
             "vidseg.media.render": {"vidseg.formats.tables": 2},
             "vidseg.formats.coco": {"vidseg.evaluation.evaluate": 3},
             "vidseg.evaluation.evaluate": {"vidseg.formats.coco": 4, "vidseg.tracking.tracker": 5},
             "vidseg.inference.segment": {"vidseg.workflow.units": 6, "vidseg.maskrcnn.model": 7},
             "vidseg.report.build": {"vidseg.workflow.plan": 8}}
    assert upward_imports(graph) == ["vidseg.core.errors (line 1) imports vidseg.workflow.plan",
                                     "vidseg.media.render (line 2) imports vidseg.formats.tables",
                                     "vidseg.formats.coco (line 3) imports vidseg.evaluation.evaluate",
                                     "vidseg.inference.segment (line 6) imports vidseg.workflow.units"]
    assert planning_imports(graph) == ["vidseg.core.errors (line 1) imports vidseg.workflow.plan",
                                       "vidseg.inference.segment (line 6) imports vidseg.workflow.units"]
    assert cycles(graph) == [["vidseg.evaluation.evaluate", "vidseg.formats.coco"]]
    assert missing_modules({"vidseg.maskrcnn.h5file": {"vidseg.errors": 12, "vidseg.core.errors": 13}}) == [
        "vidseg.maskrcnn.h5file (line 12) imports vidseg.errors, which is no module"]
