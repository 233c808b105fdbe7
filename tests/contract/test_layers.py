"""The package layering, checked by walking every import statement of ``src/affectkit``.

Layers, top to bottom (a module may import only from its own package or from lower layers;
packages on the same layer never import each other)::

    cli
    serve
    evaluation        (benchmarks may run the analyzer's models)
    analysis          (inference only: never imports evaluation)
    experiment
    training
    models
    features
    data | tasks
    backbones, media, metrics, config, registry, progress
    types, taxonomy, errors (and the package root)

Imports inside functions count (they are dependencies too); imports under
``if TYPE_CHECKING:`` do not (annotations only). Run it alone with
``pytest tests/contract/test_layers.py -q``; it needs nothing but the source tree.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "affectkit"

LAYERS = [
    {"types", "taxonomy", "errors"},
    {"affectkit"},  # the package root: version and re-exported types
    {"backbones", "media", "metrics", "config", "registry", "progress"},
    {"data", "tasks"},
    {"features"},
    {"models"},
    {"training"},
    {"experiment"},
    {"analysis"},
    {"evaluation"},
    {"serve"},
    {"cli"},
]
RANK = {p: i for i, layer in enumerate(LAYERS) for p in layer}


def _modules(src: Path = SRC) -> dict[str, Path]:
    mods = {}
    for p in (src / "affectkit").rglob("*.py"):
        parts = list(p.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            for sub in node.body:
                skip.update(id(n) for n in ast.walk(sub))
    return skip


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base = name.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in mods]
        for t in targets:
            if not t.startswith("affectkit"):
                continue
            while t not in mods and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in mods and t != name:
                out.add(t)
    return out


def _graph(src: Path = SRC) -> dict[str, set[str]]:
    mods = _modules(src)
    return {n: _imports(n, p, mods) for n, p in mods.items()}


def _package(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "affectkit"


def test_every_package_has_a_layer():
    missing = sorted({_package(m) for m in _modules()} - set(RANK))
    assert not missing, f"add these packages to LAYERS in {__file__}: {missing}"


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in graph.items():
        a = _package(mod)
        for d in deps:
            b = _package(d)
            if a != b and RANK.get(b, 99) >= RANK.get(a, 99):
                bad.append(f"{mod} → {d}  ({a} is on layer {RANK.get(a)}, {b} on {RANK.get(b)})")
    return sorted(bad)


def cycles(graph: dict[str, set[str]]) -> list[str]:
    found, state, stack = [], {}, []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                found.append(" → ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def test_no_module_imports_from_a_layer_above_or_beside_it():
    bad = layer_violations(_graph())
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_import_cycles():
    found = cycles(_graph())
    assert not found, "import cycles:\n" + "\n".join(found)


def test_the_checker_sees_violations(tmp_path):
    """On a made-up tree, an upward import, a sideways import and a cycle are all reported
    (guards against a checker that passes because it sees nothing)."""
    pkg = tmp_path / "affectkit"
    for d in ("data", "training", "tasks"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "x.py").write_text("def f():\n    from affectkit.training import y\n")
    (pkg / "training" / "y.py").write_text("from affectkit.data import x\n")
    (pkg / "data" / "z.py").write_text("import affectkit.tasks.w\n")
    (pkg / "tasks" / "w.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from affectkit.training import y\n")
    g = _graph(tmp_path)
    bad = layer_violations(g)
    assert any(b.startswith("affectkit.data.x → affectkit.training.y") for b in bad)
    assert any(b.startswith("affectkit.data.z → affectkit.tasks.w") for b in bad)
    assert not any(b.startswith("affectkit.tasks.w") for b in bad)  # TYPE_CHECKING only
    assert any("affectkit.data.x" in c and "affectkit.training.y" in c for c in cycles(g))
