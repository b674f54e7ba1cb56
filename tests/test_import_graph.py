"""The package reads like its data flow: no import cycles, no upward imports, cheap imports.

The graph is read from the source (every ``import restora...``, at module level or inside a
function; ``if TYPE_CHECKING:`` blocks excluded), so a cycle hidden in a function-level
import fails here too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "restora"

#: Sub-packages and modules from the bottom (no restora imports but these) to the top. An
#: import may go down or stay level, never up.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("restora", "restora._lazy", "restora._optional", "restora.errors"),
    ("restora.color", "restora.pipeline", "restora.io", "restora.estimate", "restora.degrade",
     "restora.frames"),
    ("restora.metrics", "restora.weights", "restora.zoo"),
    ("restora.options", "restora.archs"),
    ("restora.defaults", "restora.models"),
    ("restora.solvers", "restora.train"),
    ("restora.methods",),
    ("restora.auto",),
    ("restora.run",),
    ("restora.api", "restora.bench", "restora.cli_options", "restora.console"),
    ("restora.batch", "restora.web"),
    ("restora.cli", "restora.cli_models", "restora.cli_frames", "restora.__main__"),
)
#: Third-party packages heavy enough to defer to the function that needs them.
HEAVY = ("torch", "torchvision", "cv2", "fastapi", "uvicorn", "starlette", "ray", "matplotlib",
         "spandrel", "safetensors", "skimage", "scipy", "bm3d", "rawpy", "pillow_heif")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, inside a function) for every import outside TYPE_CHECKING blocks."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            deeper = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.append((full if full in MODULES else child.module, deeper))
            elif isinstance(child, ast.Import):
                found.extend((alias.name, deeper) for alias in child.names)
            visit(child, deeper)

    visit(ast.parse(path.read_text()), False)
    return found


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _layer(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def test_every_package_has_a_layer():
    assert {_package(m) for m in MODULES} <= {p for layer in LAYERS for p in layer}


def test_no_import_cycles():
    edges = {m: sorted({t for t, _ in imports if t in MODULES and t != m})
             for m, imports in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_no_upward_imports():
    upward = [f"{m} -> {t}" for m, imports in GRAPH.items() for t, _ in imports
              if t in MODULES and _layer(_package(t)) > _layer(_package(m))]
    assert not upward, upward


def _heavy(module: str, seen: frozenset[str] = frozenset()) -> bool:
    """The module imports a heavy package when it is imported (directly or through restora)."""
    for target, in_function in GRAPH[module]:
        if in_function:
            continue
        if target.split(".")[0] in HEAVY:
            return True
        if target in MODULES and target not in seen and _heavy(target, seen | {module}):
            return True
    return False


def test_own_modules_are_imported_at_the_top_unless_heavy():
    """restora's cheap modules are imported at module level, so the graph is visible; only
    modules that pull in torch, FastAPI and the like are imported inside functions."""
    deferred = [f"{m} imports {t} inside a function" for m, imports in GRAPH.items()
                for t, in_function in imports
                if in_function and t in MODULES and not _heavy(t)]
    assert not deferred, deferred


def test_entry_points_import_without_torch_or_opencv():
    code = ("import sys, restora, restora.cli, restora.api, restora.run, restora.batch.core, "
            "restora.web.jobs; print(sorted(m for m in ('torch', 'cv2', 'fastapi', 'ray') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
