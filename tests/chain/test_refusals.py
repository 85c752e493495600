"""The real notebooks refuse bad input before they write anything."""

from __future__ import annotations

import datetime as dt

import papermill
import pytest

from fti import config
from fti.features import run_feature_pipeline
from fti.run.kernels import KERNEL_MANAGER
from fti.source import FlightSource
from fti.store import FeatureStore

pytestmark = pytest.mark.slow


def test_a_training_run_refused_for_too_little_data_leaves_no_snapshot(tmp_path):
    data = tmp_path / "data"
    run_feature_pipeline(FeatureStore(data), FlightSource(), dt.date(2013, 1, 1),
                         dt.date(2013, 1, 4))
    with pytest.raises(papermill.PapermillExecutionError) as refused:
        papermill.execute_notebook(
            str(config.notebooks_dir() / "02_training_pipeline.ipynb"),
            str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
            kernel_manager_class=KERNEL_MANAGER, cwd=str(tmp_path),
            parameters={"train_end": "2013-01-03", "data_dir": str(data)})
    assert refused.value.ename == "NotEnoughDataError"
    assert "holdout_days=14" in refused.value.evalue
    assert not (data / "training_datasets").exists()
    assert not (data / "models").exists()
