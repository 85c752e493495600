"""What a student sees when a notebook refuses a parameter: the message, not a traceback
through the library, while papermill still stops with an error."""

from __future__ import annotations

import nbformat
import papermill
import pytest

from fti.run.kernels import KERNEL_MANAGER


def test_a_parameter_error_shows_its_message_alone_and_still_fails_the_run(tmp_path):
    source = tmp_path / "bad.ipynb"
    cell = nbformat.v4.new_code_cell(
        "from fti.params import inference_params\n"
        "inference_params('2013-06-01', 1, 'flight_delay', 'champion', 0, 1.5, '', True)")
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, source)
    with pytest.raises(papermill.PapermillExecutionError) as failed:
        papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"),
                                   kernel_name="python3", progress_bar=False,
                                   kernel_manager_class=KERNEL_MANAGER)
    assert failed.value.ename == "ParameterError"
    assert "threshold=1.5 must be between 0 and 1" in failed.value.evalue
    shown = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[-1].outputs[-1]
    assert len(shown.traceback) == 2 and "threshold=1.5" in shown.traceback[0]
    assert not any("params.py" in line for line in shown.traceback)
