"""The layering of docs/architecture.md, checked over every import of the package.

The table in the document is the single source: each module's layer is read from it, so the plan
and the check cannot drift apart. Imports are read with ``ast`` (nothing is imported to find them),
including imports inside functions. Written by hand rather than as an import-linter contract
because the rules are few and the messages should name the module, line and import in question.
"""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rubric_kernel"
DOC = ROOT / "docs" / "architecture.md"
LAYERS = ("core", "edges", "sessions", "surfaces")
IO_FRAMEWORKS = {
    "sqlalchemy",
    "alembic",
    "psycopg",
    "pandas",
    "IPython",
    "ipywidgets",
    "ipykernel",
    "jupyter_client",
    "papermill",
    "nbconvert",
    "nbclient",
    "nbformat",
}
PANDAS_HOMES = {"rubric_kernel.frames"}
# Library modules that print today (rule 6 of the document); each should move its output up to the CLI.
KNOWN_PRINTS = {
    "rubric_kernel.batch.zygote",  # the kernel template process answers its parent on its own stdout
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str  # a module of the package, or a third-party top-level name
    line: int
    lazy: bool  # inside a function: not run when the source is imported
    typing: bool = False  # under ``if TYPE_CHECKING``: for annotations only, never run


def module_files() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = module_files()


def imports_of(name: str, source: str, is_package: bool = False) -> list[Import]:
    """Every import statement of one module's source, resolved to package modules where it names one."""
    tree = ast.parse(source)
    inside_functions = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
    }
    for_typing = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            target = t if t.split(".")[0] == "rubric_kernel" else t.split(".")[0]
            found.append(Import(name, target, node.lineno, id(node) in inside_functions, id(node) in for_typing))
    return found


@functools.cache
def all_imports() -> tuple[Import, ...]:
    return tuple(
        i
        for name, path in MODULES.items()
        for i in imports_of(name, path.read_text(encoding="utf-8"), path.name == "__init__.py")
    )


def documented_layers() -> dict[str, str]:
    """``| `module` | layer | concern |`` rows of docs/architecture.md."""
    rows = re.findall(r"^\| `(rubric_kernel[\w.]*(?:\.\*)?)` \| (\w+) \|", DOC.read_text(encoding="utf-8"), re.M)
    return dict(rows)


LAYER_OF = documented_layers()


def layer_of(module: str) -> str | None:
    if module in LAYER_OF:
        return LAYER_OF[module]
    packages = [p for p in LAYER_OF if p.endswith(".*") and (module + ".").startswith(p[:-1])]
    return LAYER_OF[max(packages, key=len)] if packages else None


def layering_violations(imports: Iterable[Import]) -> list[str]:
    out = []
    for i in imports:
        if not i.target.startswith("rubric_kernel"):
            continue
        src, dst = layer_of(i.source), layer_of(i.target)
        if src and dst and LAYERS.index(dst) > LAYERS.index(src):
            out.append(
                f"{i.source} ({src}) line {i.line} imports {i.target} ({dst}): "
                f"{src} modules may import only {', '.join(LAYERS[: LAYERS.index(src) + 1])} modules"
            )
    return out


def _explain(problems: list[str]) -> str:
    return "\n  " + "\n  ".join(problems) + "\n(see docs/architecture.md)"


def test_every_module_has_a_documented_layer():
    assert set(LAYER_OF.values()) <= set(LAYERS), set(LAYER_OF.values()) - set(LAYERS)
    unplaced = [m for m in MODULES if layer_of(m) is None]
    assert not unplaced, "docs/architecture.md gives no layer to:" + _explain(unplaced)
    stale = [m for m in LAYER_OF if m.removesuffix(".*") not in MODULES]
    assert not stale, "docs/architecture.md places modules that do not exist:" + _explain(stale)


def test_imports_point_down_the_layers():
    problems = layering_violations(all_imports())
    assert not problems, "imports against the layering:" + _explain(problems)


def test_the_checker_names_an_upward_import():
    """The check can fail: a core module importing the store, or the CLI, is reported by name and line."""
    fake = "from __future__ import annotations\n\nfrom .store import Store\n\n\ndef f():\n    from .cli import main\n"
    problems = layering_violations(imports_of("rubric_kernel.scoring", fake))
    assert problems == [
        "rubric_kernel.scoring (core) line 3 imports rubric_kernel.store (edges): core modules may import only core modules",
        "rubric_kernel.scoring (core) line 7 imports rubric_kernel.cli (surfaces): core modules may import only core modules",
    ]
    relative = imports_of("rubric_kernel.workflow.state", "from ..batch import runner\nfrom . import schedule\n")
    assert [i.target for i in relative] == ["rubric_kernel.batch.runner", "rubric_kernel.workflow.schedule"]


def test_core_stays_free_of_io_frameworks():
    problems = [
        f"{i.source} line {i.line} imports {i.target}"
        for i in all_imports()
        if layer_of(i.source) == "core" and i.target in IO_FRAMEWORKS
    ]
    assert not problems, "core modules importing I/O frameworks:" + _explain(problems)


def test_workflow_state_machine_does_not_import_the_store():
    targets = {i.target for i in all_imports() if i.source == "rubric_kernel.workflow.state"}
    assert "rubric_kernel.store" not in targets and "sqlalchemy" not in targets, targets


def test_workflow_documents_do_not_import_the_batch():
    found = [
        f"line {i.line} imports {i.target}"
        for i in all_imports()
        if i.source == "rubric_kernel.workflow.documents" and i.target.startswith("rubric_kernel.batch")
    ]
    assert not found, "workflow/documents.py depends on the batch:" + _explain(found)


def test_pandas_only_in_frames():
    found = [
        f"{i.source} line {i.line}"
        for i in all_imports()
        if i.target == "pandas" and not i.typing and i.source not in PANDAS_HOMES
    ]
    assert not found, "pandas imported outside frames.py:" + _explain(found)


def _loaded_at_start(start: str, imports: Iterable[Import]) -> dict[str, list[str]]:
    """Modules and top-level packages imported when ``start`` is, each with the chain that brings it in."""
    eager: dict[str, list[str]] = {}
    for i in imports:
        if not (i.lazy or i.typing):
            eager.setdefault(i.source, []).append(i.target)
    chains, todo = {start: [start]}, [start]
    while todo:
        current = todo.pop()
        parents = [".".join(current.split(".")[:k]) for k in range(1, current.count(".") + 1)]
        for target in eager.get(current, []) + [p for p in parents if p in MODULES]:
            if target not in chains:
                chains[target] = [*chains[current], target]
                if target in MODULES:
                    todo.append(target)
    return chains


@pytest.mark.parametrize("entry", ["rubric_kernel.cli", "rubric_kernel.__main__"])
def test_the_command_line_never_imports_pandas(entry):
    chains = _loaded_at_start(entry, all_imports())
    heavy = [
        " → ".join(chains[m]) for m in ("pandas", *sorted(PANDAS_HOMES), "rubric_kernel.cohort_notebook") if m in chains
    ]
    assert not heavy, "the command line's start-up imports pandas:" + _explain(heavy)


def test_the_command_line_never_imports_pandas_at_run_time():
    """The same, as Python itself sees it (third-party packages that import pandas included)."""
    code = "import sys, rubric_kernel.cli; print(sorted(m for m in ('pandas', 'rubric_kernel.frames') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def _prints(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
    ]


def test_library_modules_do_not_print():
    printing = {m: _prints(p) for m, p in MODULES.items() if layer_of(m) != "surfaces"}
    printing = {m: lines for m, lines in printing.items() if lines}
    new = [f"{m} line(s) {', '.join(map(str, lines))}" for m, lines in printing.items() if m not in KNOWN_PRINTS]
    assert not new, "library modules print (return the text, or raise, and let the CLI show it):" + _explain(new)
    fixed = sorted(KNOWN_PRINTS - set(printing))
    assert not fixed, "no longer print: remove from KNOWN_PRINTS:" + _explain(fixed)
