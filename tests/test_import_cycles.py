"""No import cycles among Baton's modules: every import counts, module-level or inside a function,
except those under `if TYPE_CHECKING:` (they never run)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "config")
Graph = Mapping[str, frozenset[str]]

# None left: a cycle found is a defect (the run package split removed the last one).
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of these packages under `root`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: all but the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _parents(name: str) -> list[str]:
    """The packages above a module: importing `a.b.c` runs `a` and `a.b` first."""
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _targets(
    node: ast.Import | ast.ImportFrom, package: str, known: Mapping[str, Path]
) -> tuple[set[str], set[str]]:
    """What an import statement runs: the modules it names, and the packages above them."""
    if isinstance(node, ast.Import):
        named = {alias.name for alias in node.names}
    else:
        base = node.module or ""
        if node.level:
            kept = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*kept, *([node.module] if node.module else [])])
        # `from pkg import sub` names the submodule; `from pkg import thing` names `pkg`.
        named = {
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
            for alias in node.names
        }
    return named, {parent for target in named for parent in _parents(target)}


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, frozenset[str]]:
    """Module -> the modules of these packages that importing it runs, directly."""
    known = modules(root, packages)
    graph: dict[str, frozenset[str]] = {}
    for name, path in known.items():
        package = _package_of(name, path)
        # The packages above a module have started importing before it runs: reaching them
        # again only on the way to a sibling is no cycle (naming one explicitly is).
        above = set(_parents(name))
        edges: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
            named, passed = _targets(node, package, known)
            edges |= named | (passed - above)
        graph[name] = frozenset(e for e in edges if e in known and e != name)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected groups of more than one module (each has a cycle), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def without(graph: Graph, pairs: Iterable[frozenset[str]]) -> dict[str, frozenset[str]]:
    """The graph without the imports between the modules of each pair, either way."""
    dropped = set(pairs)
    return {
        name: frozenset(e for e in edges if frozenset({name, e}) not in dropped)
        for name, edges in graph.items()
    }


def write(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_no_module_of_bot_adapters_or_config_imports_itself_round_a_cycle() -> None:
    graph = without(import_graph(ROOT, PACKAGES), KNOWN_CYCLES)
    assert cycles(graph) == [], "move what both sides need into a module both can import"


def test_the_known_cycles_are_still_cycles() -> None:
    """An exception that no longer holds is removed from KNOWN_CYCLES, so it cannot hide one."""
    graph = import_graph(ROOT, PACKAGES)
    for pair in KNOWN_CYCLES:
        inner = {name: graph[name] & pair for name in pair}
        assert cycles(inner) == [sorted(pair)], f"{sorted(pair)} no longer cycle: remove it"


def test_function_level_imports_count_and_type_checking_ones_do_not(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    from pkg import b\n",
            "pkg/b.py": "import pkg.a\n",
            "pkg/c.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.d import x\n",
            "pkg/d.py": "from pkg.c import y\n",
        },
    )
    assert cycles(import_graph(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b"]]


def test_a_package_init_that_imports_its_submodules_is_no_cycle_unless_one_imports_it_back(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub import thing\n",
            "pkg/sub.py": "from pkg import helper\nthing = 1\n",
            "pkg/helper.py": "",
            "other/__init__.py": "from other.mod import thing\n",
            "other/mod.py": "from other import name\nthing = 1\n",
        },
    )
    assert cycles(import_graph(tmp_path, ["pkg", "other"])) == [["other", "other.mod"]]
