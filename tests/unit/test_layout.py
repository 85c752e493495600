"""The house rules of lib/fti: two wings, imports pointing one way, no cycles, small rooms.

``fti`` is what the notebooks import (the pipelines' library); ``fti.run`` runs notebooks
as a system and may import ``fti``, never the reverse. Read from the source with ``ast``,
so function-level imports count too.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from fti import config

LIB = config.repo_root() / "lib"
#: A module may grow to about this many lines before it should be split by job.
MAX_LINES = 360


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted((LIB / "fti").rglob("*.py"))}


def _imports(tree: ast.AST, here: str) -> set[str]:
    """The fti modules a piece of code imports (``from fti import x`` names module fti.x)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "fti"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "fti":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found - {here}


GRAPH = {name: _imports(ast.parse(path.read_text()), name) for name, path in MODULES.items()}


def _in_runner(name: str) -> bool:
    return name == "fti.run" or name.startswith("fti.run.")


def test_the_library_never_imports_the_runner():
    # fti.__main__ is the command's entry (``python -m fti``), not part of the library
    wrong = {name: sorted(filter(_in_runner, deps)) for name, deps in GRAPH.items()
             if not _in_runner(name) and name != "fti.__main__" and any(map(_in_runner, deps))}
    assert wrong == {}


@pytest.mark.parametrize("notebook", sorted(config.notebooks_dir().glob("*.ipynb")),
                         ids=lambda p: p.name)
def test_notebooks_import_only_the_library(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    lines = [line for cell in cells if cell["cell_type"] == "code"
             for line in "".join(cell["source"]).splitlines()]
    code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
    used = _imports(ast.parse(code), "")
    assert used, "a lesson notebook imports the library"
    assert not [m for m in used if _in_runner(m)]


def test_there_is_no_import_cycle():
    seen: dict[str, str] = {}  # module -> "active" while on the path, "done" after

    def visit(name: str, path: list[str]) -> None:
        seen[name] = "active"
        for dep in sorted(GRAPH.get(name, ())):
            if seen.get(dep) == "active":
                pytest.fail("import cycle: " + " -> ".join([*path, name, dep]))
            if dep not in seen:
                visit(dep, [*path, name])
        seen[name] = "done"

    for name in GRAPH:
        if name not in seen:
            visit(name, [])


def test_every_module_is_small_and_says_its_job_first():
    too_long = {name: n for name, path in MODULES.items()
                if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}
    silent = [name for name, path in MODULES.items() if not ast.get_docstring(
        ast.parse(path.read_text()))]
    assert silent == []
