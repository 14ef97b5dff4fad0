"""The package's layers, checked by parsing every import (``ast``): no wrong-way arrow, no cycle, no big file.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a lazy import that goes the
wrong way is still a dependency. See docs/architecture.md for the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vlkit"
MAX_LINES = 400

LOWER = ("common", "processors", "metrics", "data", "models")
# sub-package -> the sub-packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "processors": {"common"},
    "metrics": {"common"},
    "data": {"common", "processors", "metrics"},
    "models": {"common", "processors"},  # processors: only for load_model_and_preprocess
    "tasks": {*LOWER},
    "runners": {*LOWER, "tasks"},
    "capfilt": {*LOWER},
    "pipelines": {*LOWER, "tasks", "runners", "capfilt"},
    "demo": {*LOWER},  # an application on top of the models
    "predict": {*LOWER},  # bulk inference over folders, lists and shards
}
TOP = {"quickstart", "cli", "__main__", ""}  # entry points: may import anything


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """vlkit modules that ``module`` imports (``from pkg import submodule`` counts as the submodule)."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        out.update(t for t in (known(x) for x in targets if x.startswith("vlkit")) if t and t != module)
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH = {m: _imports(m, p, _modules()) for m, p in _modules().items()}


def test_lower_layers_never_import_higher_ones() -> None:
    wrong = []
    for module, targets in sorted(GRAPH.items()):
        layer = _layer(module)
        if layer in TOP:
            continue
        assert layer in ALLOWED, f"vlkit/{layer}/ is a new sub-package: add its layer to ALLOWED in {__file__}"
        wrong += [f"{module} -> {t}" for t in sorted(targets) if _layer(t) not in ALLOWED[layer] | {layer, ""}]
    assert not wrong, "imports against the layers (docs/architecture.md):\n" + "\n".join(wrong)


def test_vlkit_root_imports_nothing_heavy() -> None:
    assert GRAPH["vlkit"] <= {m for m in GRAPH if _layer(m) == "common"}


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("folder", ["vlkit", "projects"])
def test_no_python_file_over_400_lines(folder: str) -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / folder).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these by concept (at most {MAX_LINES} lines): {long}"


def test_the_checker_sees_a_wrong_way_import(tmp_path: Path) -> None:
    """The parser finds function-local and relative imports (so the rules above cannot pass vacuously)."""
    modules = {name: tmp_path / f"{name}.py" for name in ("vlkit.common.a", "vlkit.common.c", "vlkit.tasks.b")}
    src = "def f():\n    from vlkit.tasks.b import x\nfrom . import c\n"
    (tmp_path / "a.py").write_text(src)
    assert _imports("vlkit.common.a", tmp_path / "a.py", modules) == {"vlkit.tasks.b", "vlkit.common.c"}
    assert GRAPH["vlkit.runners.runner_base"] & {"vlkit.tasks.context"}  # a real edge is seen
