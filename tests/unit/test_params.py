"""Notebook parameters: validated values, and messages a student can act on.

The values a notebook passes by default come from its own ``parameters`` cell (the one
home of every default), read the way the runner reads them.
"""

from __future__ import annotations

import pytest

from fti.errors import ParameterError
from fti.params import feature_params, inference_params
from fti.run.plan import notebook_defaults


def _feature(**given):
    return feature_params(**{**notebook_defaults("feature"), **given})


def _inference(**given):
    return inference_params(**{**notebook_defaults("inference"), **given})


@pytest.mark.parametrize(("given", "expected"), [
    (True, True), (False, False), ("False", False), ("true", True), (" TRUE ", True)])
def test_figures_takes_a_bool_or_its_spelling_from_a_command_line(given, expected):
    assert _feature(start_date="2013-06-01", end_date="2013-06-01",
                    figures=given).figures is expected
    assert _inference(run_date="2013-06-01", figures=given).figures is expected


@pytest.mark.parametrize("given", ["no", "0", 1, None])
def test_figures_refuses_anything_else_and_says_what_it_wants(given):
    with pytest.raises(ParameterError, match="figures=.* is not True or False"):
        _inference(run_date="2013-06-01", figures=given)


def test_figures_are_drawn_unless_asked_otherwise():
    assert _feature(start_date="2013-06-01", end_date="2013-06-02").figures is True
    assert _inference(run_date="2013-06-01").figures is True


def test_a_day_outside_2013_names_the_parameter_and_the_range():
    with pytest.raises(ParameterError, match="run_date=2014-01-01: the data covers"):
        _inference(run_date="2014-01-01")


@pytest.mark.parametrize("pipeline", ["feature", "training", "inference", "monitoring"])
def test_every_notebook_runs_as_is_with_its_own_defaults(pipeline):
    from fti import params

    check = {"feature": params.feature_params, "training": params.training_params,
             "inference": params.inference_params,
             "monitoring": params.monitoring_params}[pipeline]
    check(**notebook_defaults(pipeline))  # no ParameterError


def test_the_feature_pipeline_runs_on_pandas_unless_asked_otherwise():
    p = _feature()
    assert (p.engine, p.spark_master) == ("pandas", "")


def test_an_unknown_engine_is_refused_with_the_known_ones():
    with pytest.raises(ParameterError, match=r"engine='dask' is unknown; use 'pandas' .* 'spark'"):
        _feature(engine="dask")


def test_a_spark_master_without_the_spark_engine_is_refused():
    with pytest.raises(ParameterError, match="set engine='spark'"):
        _feature(spark_master="spark://cluster:7077")


def test_the_spark_master_is_the_parameter_else_the_environment_else_local(monkeypatch):
    monkeypatch.delenv("SPARK_MASTER", raising=False)
    assert _feature(engine="spark").spark_master == "local[*]"
    monkeypatch.setenv("SPARK_MASTER", "spark://cluster:7077")
    assert _feature(engine="Spark ").spark_master == "spark://cluster:7077"
    assert _feature(engine="spark", spark_master="local[2]").spark_master == "local[2]"


def test_a_spark_master_that_is_no_url_is_refused():
    with pytest.raises(ParameterError, match="spark_master='my cluster' is not a Spark master"):
        _feature(engine="spark", spark_master="my cluster")
def test_a_catch_up_of_days_stays_in_2013_and_lists_its_days():
    p = _inference(run_date="2013-12-29", days=3)
    assert [d.isoformat() for d in p.run_dates] == ["2013-12-29", "2013-12-30", "2013-12-31"]
    with pytest.raises(ParameterError, match="the last day"):
        _inference(run_date="2013-12-29", days=4)
    with pytest.raises(ParameterError, match="days=0 is too small"):
        _inference(run_date="2013-06-01", days=0)


def test_a_monitoring_minimum_longer_than_the_window_is_refused():
    from fti.params import monitoring_params

    defaults = notebook_defaults("monitoring")
    with pytest.raises(ParameterError, match="min_days=7 is more than window_days=3"):
        monitoring_params(**{**defaults, "window_days": 3})
    assert monitoring_params(**{**defaults, "window_days": 3, "min_days": 3}).min_days == 3
