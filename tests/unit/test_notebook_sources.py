"""The source notebooks as committed: clean, one typed parameters cell, the kernel `make`
installs (so opening one in JupyterLab does not make it dirty)."""

from __future__ import annotations

import ast
import json
import re

import pytest

from fti import config

NOTEBOOKS = sorted(config.notebooks_dir().glob("*.ipynb"))


def _installed_kernel() -> dict[str, str]:
    makefile = (config.repo_root() / "Makefile").read_text()
    found = re.search(r'ipykernel install .*--name (\S+) --display-name "([^"]+)"', makefile)
    assert found, "the Makefile installs a kernel"
    return {"name": found.group(1), "display_name": found.group(2)}


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request) -> dict:
    return json.loads(request.param.read_text())


def test_a_source_notebook_names_the_kernel_make_installs(notebook):
    spec = notebook["metadata"]["kernelspec"]
    assert {k: spec[k] for k in ("name", "display_name")} == _installed_kernel()


def test_a_source_notebook_has_no_outputs_or_execution_counts(notebook):
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_every_cell_has_a_unique_id(notebook):
    """nbformat 4.5 requires cell ids: without one, nbformat warns in every run and
    JupyterLab adds one on opening, which makes the notebook dirty."""
    ids = [c.get("id") for c in notebook["cells"]]
    assert None not in ids and len(set(ids)) == len(ids)


def test_a_source_notebook_has_one_parameters_cell_of_typed_commented_literals(notebook):
    cells = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1
    source = "".join(cells[0]["source"])
    for node in ast.parse(source).body:
        assert isinstance(node, ast.AnnAssign), ast.unparse(node)
        ast.literal_eval(node.value)  # a literal, so papermill can document and inject it
    assert all("  # " in line for line in source.splitlines() if line.strip())
