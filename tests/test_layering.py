"""The layering drawn in DESIGN.md (and docs/architecture.md), held by the code's own imports.

Read from the source with `ast` (nothing is imported), so a broken layer fails here with the
file and line of the import, not later as a cycle at run time.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "releasemgr"

LEAVES = {"common", "errors"}  # import nothing of the project; everything may import them
# layer -> the layers it may import (besides itself and the leaves)
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "errors": set(),
    "ui": set(),
    "config": set(),
    "template": set(),
    "pipeline": {"template"},
    "providers": {"pipeline", "template"},
    "ledger": set(),
    "release": {"ledger", "pipeline", "providers", "template", "config", "ui"},
    "cli": {"release", "ledger", "pipeline", "providers", "template", "config", "ui"},
    "__main__": {"cli"},
    "__init__": set(),
}
# Third-party modules a layer must not talk to directly.
FORBIDDEN_THIRD_PARTY = {
    "cli": {"boto3", "botocore", "sqlalchemy", "sqlmodel", "sqlite3", "psycopg", "paramiko"},
    "release": {"boto3", "botocore", "sqlalchemy", "sqlmodel", "sqlite3", "psycopg", "paramiko"},
    "providers": {"sqlalchemy", "sqlmodel", "sqlite3", "psycopg"},
    "ledger": {"boto3", "botocore", "paramiko"},
    "common": {"boto3", "botocore", "paramiko", "sqlalchemy", "sqlmodel", "click"},
}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if "migrations" in parts:  # Alembic's scripts: run by Alembic, not imported by the package
            continue
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(module: str, path: Path):
    """(line, imported module, at module top?) for every import in `path`."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    top = {id(n) for n in tree.body}
    top |= {id(n) for node in tree.body if isinstance(node, (ast.If, ast.Try)) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = base[: len(base) - node.level + 1]
                name = ".".join(pkg + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name, id(node) in top
            for alias in node.names:  # `from releasemgr.x import y` where y is a module
                yield node.lineno, f"{name}.{alias.name}", id(node) in top


def _project_edges():
    mods = _modules()
    edges = []
    for module, path in mods.items():
        for line, name, at_top in _imports(module, path):
            target = name
            while target and target not in mods:
                target = target.rpartition(".")[0]
            if target.startswith("releasemgr") and target != module and target != "releasemgr":
                edges.append((module, target, f"{path.relative_to(PKG.parent)}:{line}", at_top))
    return mods, edges


def test_imports_go_downward_only():
    _, edges = _project_edges()
    bad = sorted({f"{where}: {src} -> {dst}" for src, dst, where, _ in edges
                  if _layer(dst) != _layer(src) and _layer(dst) not in LEAVES
                  and _layer(dst) not in ALLOWED[_layer(src)]})
    assert not bad, "imports that break the layering of docs/architecture.md:\n" + "\n".join(bad)


def test_leaves_import_nothing_of_the_project():
    _, edges = _project_edges()
    bad = [f"{where}: {src} -> {dst}" for src, dst, where, _ in edges
           if _layer(src) in LEAVES and _layer(dst) != _layer(src)]
    assert not bad, "\n".join(bad)


def test_project_imports_are_at_module_top():
    """Lazy imports are for heavy third-party modules only; the project's own at the top, where
    readers and tools see the real dependency graph."""
    _, edges = _project_edges()
    bad = sorted({f"{where}: {src} imports {dst} inside a function" for src, dst, where, top in edges if not top})
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    mods, edges = _project_edges()
    graph = defaultdict(set)
    for src, dst, _, _ in edges:
        # a package's __init__ importing its own submodules is how a package hands names on
        if not src.startswith(dst + ".") and not dst.startswith(src + "."):
            graph[src].add(dst)
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def strong(v):  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for m in list(mods):
        if m not in index:
            strong(m)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_layers_do_not_talk_to_forbidden_third_party_modules():
    mods = _modules()
    bad = []
    for module, path in mods.items():
        banned = FORBIDDEN_THIRD_PARTY.get(_layer(module), set())
        for line, name, _ in _imports(module, path):
            if name.split(".")[0] in banned:
                bad.append(f"{path.relative_to(PKG.parent)}:{line}: {module} imports {name}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_the_table_names_every_layer():
    layers = {_layer(m) for m in _modules()}
    assert layers <= set(ALLOWED), f"layers missing from the table: {layers - set(ALLOWED)}"
