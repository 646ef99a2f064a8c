#!/usr/bin/env python3
"""Check that the package's layout keeps its architecture (issue 14).

``python tools/check_layout.py`` parses every module of ``glmspec/`` with :mod:`ast`, collects
every import (also the ones inside functions, which Python runs late but which still tie two
modules together), resolves them to modules of the package and fails (exit status 1, one line
per problem) on:

* an import cycle between modules (lazy imports included);
* a layer violation: a module importing a module of a later layer (see ``LAYERS``), or a
  module that no layer claims;
* a private cross-module import: ``from a import _name`` or ``import a._mod`` from another
  module (make the name public or move the code);
* a module longer than ``MAX_LINES`` lines, or more than ``MAX_TOP`` modules at the top of
  the package;
* the optional Dask engine (``glmspec.distributed``) imported at module level outside itself,
  or lazily from more than one module;
* code outside ``glmspec.families`` that chooses behaviour by family name: a comparison
  (``==``, ``!=``, ``in``, ``not in``) with a string that is a registered family name or
  alias (the string keys of the registry's ``FAMILIES`` and ``_ALIASES`` dicts), or a dict
  literal keyed by two or more of them. Such behaviour belongs to the family classes.

The functions take the package root and the rules as arguments, so that ``tests/`` can run
them on small fake packages.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_LINES = 450
MAX_TOP = 12

#: Layers, first to last: a module may import modules of its own layer or of earlier ones.
#: A pattern ``a.b`` claims the module ``a.b`` and every module below it; the package's
#: own name claims its ``__init__`` only.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("glmspec.errors", "glmspec.version", "glmspec.linalg", "glmspec.datasets")),
    ("families", ("glmspec.families",)),
    ("design", ("glmspec.design",)),
    ("solvers", ("glmspec.solvers",)),
    ("inference", ("glmspec.inference",)),
    ("options", ("glmspec.options",)),
    ("results", ("glmspec.results",)),
    ("fitting", ("glmspec.fitting",)),
    ("front ends", ("glmspec.api", "glmspec.arrays", "glmspec.distributed")),
    ("verify", ("glmspec.verify",)),
    ("spec", ("glmspec.spec",)),
    ("report", ("glmspec.report",)),
    ("cli", ("glmspec.cli", "glmspec.__main__", "glmspec")),
)

#: The optional engine: loaded lazily, from one module only.
LAZY = "glmspec.distributed"
#: The package that alone may compare family names, and the registry dicts naming them.
FAMILY_HOME = "glmspec.families"
REGISTRY_DICTS = ("FAMILIES", "_ALIASES")


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to a module of the package."""

    importer: str
    target: str
    line: int
    lazy: bool  # inside a function or method body
    names: tuple[str, ...]  # the names taken from ``target`` (``from target import names``)


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Map every module of ``package`` (found under ``root``) to its file."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_package(module: str, modules: dict[str, Path]) -> bool:
    return modules[module].name == "__init__.py"


def _walk(tree: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """Every node with whether it sits inside a function body."""
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, lazy = stack.pop()
        yield node, lazy
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The longest module prefix of a dotted name."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def imports(module: str, path: Path, modules: dict[str, Path], package: str) -> list[Import]:
    """Every import of another module of ``package`` made by ``module``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node, lazy in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _owner(alias.name, modules)
                if target is not None and (
                    alias.name == package or alias.name.startswith(package + ".")
                ):
                    found.append(Import(module, target, node.lineno, lazy, ()))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not _is_package(module, modules):
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source != package and not source.startswith(package + "."):
                continue
            owner = _owner(source, modules)
            if owner is None:
                continue
            names = []
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in modules:  # ``from pkg import submodule``
                    found.append(Import(module, sub, node.lineno, lazy, ()))
                else:
                    names.append(alias.name)
            if names:
                found.append(Import(module, owner, node.lineno, lazy, tuple(names)))
    return [imp for imp in found if imp.target != module]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def layer_of(module: str, layers: Sequence[tuple[str, Sequence[str]]]) -> int | None:
    """Index of the layer claiming ``module`` (the longest matching pattern wins)."""
    best, best_len = None, -1
    for index, (_, patterns) in enumerate(layers):
        for pattern in patterns:
            # a pattern without a dot (the package itself) claims its __init__ only
            below = "." in pattern and module.startswith(pattern + ".")
            if (module == pattern or below) and len(pattern) > best_len:
                best, best_len = index, len(pattern)
    return best


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _cycle_path(component: Iterable[str], graph: dict[str, set[str]]) -> list[str]:
    """One closed path through a strongly connected component, to name in the message."""
    members = set(component)
    start = min(members)
    path, seen = [start], {start}
    node = start
    while True:
        nxt = sorted(graph[node] & members)
        back = [m for m in nxt if m == start]
        fresh = [m for m in nxt if m not in seen]
        if back and (len(path) > 1 or not fresh):
            return path + [start]
        if not fresh:
            return path + [nxt[0]]
        node = fresh[0]
        path.append(node)
        seen.add(node)


def registered_names(modules: dict[str, Path], home: str, registries: Sequence[str]) -> set[str]:
    """The string keys of the dict literals named ``registries`` in the ``home`` package."""
    names: set[str] = set()
    for name, path in modules.items():
        if name != home and not name.startswith(home + "."):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            value = getattr(node, "value", None)
            named = any(isinstance(t, ast.Name) and t.id in registries for t in targets)
            if named and isinstance(value, ast.Dict):
                names |= {
                    k.value
                    for k in value.keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                }
    return names


def _strings(node: ast.AST) -> list[str]:
    """The string constants of a constant or of a tuple, list or set of constants."""
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]


def family_name_switches(module: str, path: Path, names: set[str]) -> list[str]:
    """Comparisons with a family name, and dicts keyed by family names, in ``module``."""
    problems = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops
        ):
            for operand in [node.left, *node.comparators]:
                hits = [s for s in _strings(operand) if s in names]
                if hits:
                    problems.append(
                        f"{module}:{node.lineno}: compares with the family name {hits[0]!r};"
                        " ask the family object instead (glmspec.families)"
                    )
                    break
        elif isinstance(node, ast.Dict):
            keys = [s for k in node.keys if k is not None for s in _strings(k) if s in names]
            if len(keys) >= 2:
                problems.append(
                    f"{module}:{node.lineno}: a dict keyed by family names ({', '.join(keys)});"
                    " make it an attribute of the family classes"
                )
    return problems


def check(
    root: Path,
    package: str = "glmspec",
    layers: Sequence[tuple[str, Sequence[str]]] = LAYERS,
    max_lines: int = MAX_LINES,
    max_top: int = MAX_TOP,
    lazy_package: str | None = LAZY,
    family_home: str | None = FAMILY_HOME,
    registries: Sequence[str] = REGISTRY_DICTS,
) -> list[str]:
    """All layout problems of ``package`` under ``root``, one message each (empty: all good)."""
    modules = module_names(root, package)
    problems = []
    graph: dict[str, set[str]] = {name: set() for name in modules}
    all_imports = []
    for name, path in modules.items():
        found = imports(name, path, modules, package)
        all_imports.extend(found)
        graph[name].update(imp.target for imp in found)

    for component in find_cycles(graph):
        problems.append("import cycle: " + " -> ".join(_cycle_path(component, graph)))

    for name in modules:
        if layer_of(name, layers) is None:
            problems.append(f"{name}: no layer claims this module (add it to LAYERS)")
    for imp in all_imports:
        mine, theirs = layer_of(imp.importer, layers), layer_of(imp.target, layers)
        if mine is not None and theirs is not None and theirs > mine:
            problems.append(
                f"{imp.importer}:{imp.line}: layer {layers[mine][0]!r} imports {imp.target}"
                f" of the later layer {layers[theirs][0]!r}"
            )

    for imp in all_imports:
        private = [n for n in imp.names if _private(n)]
        hidden = [p for p in imp.target.split(".") if _private(p)]
        inside = imp.importer.startswith(imp.target + ".")  # a package's own submodule
        if private and not inside:
            problems.append(
                f"{imp.importer}:{imp.line}: imports private {', '.join(private)} from {imp.target}"
            )
        if hidden and not imp.importer.startswith(imp.target.rsplit(".", 1)[0] + "."):
            problems.append(f"{imp.importer}:{imp.line}: imports the private module {imp.target}")

    if lazy_package is not None:
        outside = [
            imp
            for imp in all_imports
            if (imp.target == lazy_package or imp.target.startswith(lazy_package + "."))
            and not (imp.importer == lazy_package or imp.importer.startswith(lazy_package + "."))
        ]
        for imp in outside:
            if not imp.lazy:
                problems.append(
                    f"{imp.importer}:{imp.line}: imports the optional {lazy_package}"
                    " at module level (import it inside the function that needs it)"
                )
        loaders = sorted({imp.importer for imp in outside})
        if len(loaders) > 1:
            problems.append(
                f"{lazy_package} is loaded from {len(loaders)} modules ({', '.join(loaders)});"
                " load it from one place"
            )

    if family_home is not None:
        names = registered_names(modules, family_home, registries)
        for name, path in modules.items():
            if name != family_home and not name.startswith(family_home + "."):
                problems.extend(family_name_switches(name, path, names))

    for name, path in modules.items():
        n_lines = len(path.read_text(encoding="utf-8").splitlines())
        if n_lines > max_lines:
            problems.append(f"{name}: {n_lines} lines, over the limit of {max_lines}")
    top = sorted(
        name
        for name, path in modules.items()
        if name.count(".") == 1 and path.name != "__init__.py"
    )
    if len(top) > max_top:
        problems.append(
            f"{package}: {len(top)} modules at the top, over the limit of {max_top}"
            f" ({', '.join(n.split('.')[-1] for n in top)})"
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print every problem; exit status 1 if there is any."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parent.parent, help="repo root"
    )
    parser.add_argument("--max-lines", type=int, default=MAX_LINES)
    args = parser.parse_args(argv)
    problems = check(args.root, max_lines=args.max_lines)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_layout: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("check_layout: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
