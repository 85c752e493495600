"""Notebook parameters: validated values, and messages a student can act on."""

from __future__ import annotations

import pytest

from fti.errors import ParameterError
from fti.params import feature_params, inference_params


@pytest.mark.parametrize(("given", "expected"), [
    (True, True), (False, False), ("False", False), ("true", True), (" TRUE ", True)])
def test_figures_takes_a_bool_or_its_spelling_from_a_command_line(given, expected):
    assert feature_params("2013-06-01", "2013-06-01", figures=given).figures is expected
    assert inference_params("2013-06-01", figures=given).figures is expected


@pytest.mark.parametrize("given", ["no", "0", 1, None])
def test_figures_refuses_anything_else_and_says_what_it_wants(given):
    with pytest.raises(ParameterError, match="figures=.* is not True or False"):
        inference_params("2013-06-01", figures=given)


def test_figures_are_drawn_unless_asked_otherwise():
    assert feature_params("2013-06-01", "2013-06-02").figures is True
    assert inference_params("2013-06-01").figures is True


def test_a_day_outside_2013_names_the_parameter_and_the_range():
    with pytest.raises(ParameterError, match="run_date=2014-01-01: the data covers"):
        inference_params("2014-01-01")
