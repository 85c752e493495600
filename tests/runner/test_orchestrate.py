"""The orchestration: papermill steps, the manifest, failures, resume, the CLI, the report.

Tiny generated notebooks stand in for the four pipelines: each logs its execution and the
parameters it received (value and type) to ``<data_dir>/log.jsonl``; the feature notebook
fails on purpose when asked to (``inject_fault="visib_stuck"``), or while a file
``<data_dir>/fail-<start_date>`` exists (a cause outside the options, fixed before a
resume). The real notebooks are tested elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from fti import config
from fti.monitoring import history as monitoring_history
from fti.run import cli, report
from fti.run.orchestrate import PipelineFailed, simulate
from fti.run.plan import Options, is_due
from fti.run.runs import read_manifest, run_notebook


def _parameters() -> dict[str, dict[str, str]]:
    """The real notebooks' parameters and their defaults (as source text), so the tiny
    stand-ins take what the real ones take; their model has a name of its own."""
    import papermill

    real = {stem: {name: spec["default"] for name, spec in
                   papermill.inspect_notebook(str(config.notebooks_dir() / f"{stem}.ipynb")
                                              ).items()}
            for stem in ("01_feature_pipeline", "02_training_pipeline",
                         "03_inference_pipeline", "04_monitoring_pipeline")}
    for stem in ("02_training_pipeline", "03_inference_pipeline", "04_monitoring_pipeline"):
        real[stem]["model_name"] = '"m"'
    return real


PARAMETERS = _parameters()
FAULT_CELL = ('if inject_fault == "visib_stuck" and start_date >= fault_start:\n'
              '    raise ValueError(f"injected fault on {start_date}")\n'
              'if (pathlib.Path(data_dir) / f"fail-{start_date}").exists():\n'
              '    raise ValueError(f"a fault on {start_date} outside the options")')


def _write_notebook(path: Path, params: dict[str, str]) -> None:
    parameters = nbformat.v4.new_code_cell(
        "\n".join(f"{name} = {value}  # a parameter" for name, value in params.items()))
    parameters.metadata["tags"] = ["parameters"]
    log = nbformat.v4.new_code_cell(
        "import json, pathlib\n"
        f"_seen = {{n: [globals()[n], type(globals()[n]).__name__] for n in {list(params)}}}\n"
        'with open(pathlib.Path(data_dir) / "log.jsonl", "a") as _f:\n'
        f'    _f.write(json.dumps({{"notebook": "{path.stem}", "params": _seen}}) + "\\n")')
    cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"), parameters, log]
    if "inject_fault" in params:
        cells.append(nbformat.v4.new_code_cell(FAULT_CELL))
    cells.append(nbformat.v4.new_code_cell('print("done")'))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Tiny pipeline notebooks, temporary data and reports folders, a fake monitoring history."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for stem, params in PARAMETERS.items():
        _write_notebook(notebooks / f"{stem}.ipynb", params)
    monkeypatch.setattr(config, "notebooks_dir", lambda: notebooks)
    data, reports = tmp_path / "data", tmp_path / "reports"
    data.mkdir()
    monkeypatch.setenv("FTI_DATA_DIR", str(tmp_path / "not_here"))  # explicit dirs must win
    retrain_on = {"2013-06-02"}
    history = pd.DataFrame({
        "run_date": [f"2013-06-0{d}" for d in range(1, 5)],
        "retrain_recommended": [f"2013-06-0{d}" in retrain_on for d in range(1, 5)],
        "reasons": ["drift share 0.45 > 0.30" if f"2013-06-0{d}" in retrain_on else ""
                    for d in range(1, 5)],
    })
    monkeypatch.setattr(monitoring_history, "read_history", lambda store: history)
    monkeypatch.setattr(report, "monitoring_history", lambda data: None)
    options = Options(data_dir=str(data), reports_dir=str(reports), export_html=False)
    return {"notebooks": notebooks, "data": data, "reports": reports, "options": options}


def _log(data: Path) -> list[tuple[str, dict]]:
    path = data / "log.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(e["notebook"], e["params"]) for e in map(json.loads, lines)]


def _executions(data: Path, notebook: str, **match: str) -> int:
    return sum(1 for nb, params in _log(data) if nb == notebook
               and all(params[k][0] == v for k, v in match.items()))


def test_a_short_simulation_keeps_every_notebook_with_html_and_an_ok_manifest(tiny):
    sources = {p: p.read_bytes() for p in tiny["notebooks"].glob("*.ipynb")}
    options = Options(data_dir=str(tiny["data"]), reports_dir=str(tiny["reports"]),
                      monitor_every_days=1)
    run_dir = tiny["reports"] / "runs" / "short"
    results = simulate("2013-06-01", "2013-06-02", run_dir, options)

    names = ["2013-06-01/feature", "2013-06-01/inference", "2013-06-02/feature",
             "2013-06-02/inference", "2013-06-02/monitoring", "2013-06-02/training"]
    manifest = read_manifest(run_dir)
    assert [s["name"] for s in manifest["steps"]] == names
    assert [r.name for r in results] == names
    for number, step in enumerate(manifest["steps"], 1):
        assert step["status"] == "ok"
        assert step["output"].startswith(f"{number:03d}_")
        assert (run_dir / step["output"]).is_file() and (run_dir / step["html"]).is_file()
        assert step["duration_s"] > 0 and step["start"]
    training = _log(tiny["data"])[-1]
    assert training[0] == "02_training_pipeline"
    assert training[1]["train_start"][0] == "2013-01-01"
    assert training[1]["train_end"][0] == "2013-06-01"  # the last day whose labels are in
    assert training[1]["promote"][0] == "if_better"
    assert "drift share 0.45" in manifest["steps"][-1]["note"]
    assert {p["data_dir"][0] for _, p in _log(tiny["data"])} == {str(tiny["data"])}
    assert {p: p.read_bytes() for p in tiny["notebooks"].glob("*.ipynb")} == sources


def _check_dependencies(steps: list[str], skipped: frozenset[str] = frozenset()) -> None:
    """Every step starts after the steps it reads from (manifest order = start order).

    A ``skipped`` step ran nothing: it is recorded when monitoring's decision is read,
    which may be while the day's inference still runs; it only counts as a decision made.
    """
    at = {name: i for i, name in enumerate(steps)}
    for name, i in at.items():
        if name in skipped:
            continue
        day, kind = name.split("/")
        earlier = set(steps[:i])
        if kind == "feature":
            assert all(s in earlier for s in steps if s.endswith("/feature") and s < name)
        else:
            assert f"{day}/feature" in earlier, name  # its day's features (and labels)
        if kind in ("inference", "monitoring"):  # the decisions before its day are final
            assert all(s in earlier for s in steps
                       if s.endswith(("/monitoring", "/training")) and s[:10] < day), name
        if kind == "monitoring":  # the predictions of every day before it
            assert all(s in earlier for s in steps if s.endswith("/inference") and s[:10] < day)
        if kind == "training":  # its day's inference still saw the old champion
            assert f"{day}/inference" in earlier and f"{day}/monitoring" in earlier, name


def test_two_kernels_and_no_daily_figures_run_the_same_steps_in_a_safe_order(tiny):
    run_dir = tiny["reports"] / "runs" / "ahead"
    code = cli.main(["simulate", "--start", "2013-06-01", "--end", "2013-06-09",
                     "--run-dir", str(run_dir), "--data-dir", str(tiny["data"]),
                     "--reports-dir", str(tiny["reports"]), "--no-html", "--monitor-every",
                     "2", "--retrain-every", "4", "--features-ahead", "3",
                     "--no-daily-figures"])
    assert code == 0
    manifest = read_manifest(run_dir)["steps"]
    steps = [s["name"] for s in manifest]
    first_run = len(_log(tiny["data"]))
    sequential = simulate("2013-06-01", "2013-06-09", tiny["reports"] / "runs" / "in-line",
                          dataclasses.replace(tiny["options"], monitor_every_days=2,
                                              retrain_every_days=4))
    assert sorted(steps) == sorted(r.name for r in sequential)
    assert [s for s in steps if s.endswith("/training")] == [
        "2013-06-03/training", "2013-06-05/training", "2013-06-07/training",
        "2013-06-09/training"]  # skipped, scheduled, skipped, scheduled
    _check_dependencies(steps, frozenset(s["name"] for s in manifest if s["status"] == "skipped"))
    logged = _log(tiny["data"])
    daily = ("01_feature_pipeline", "03_inference_pipeline")
    assert [p["figures"] for nb, p in logged[:first_run] if nb in daily] == [[False, "bool"]] * 18
    assert [p["figures"] for nb, p in logged[first_run:] if nb in daily] == [[True, "bool"]] * 18


def test_the_dependency_check_catches_a_step_started_too_early():
    in_order = ["2013-06-01/feature", "2013-06-01/inference", "2013-06-02/feature",
                "2013-06-02/monitoring", "2013-06-02/inference", "2013-06-02/training",
                "2013-06-03/feature", "2013-06-03/inference"]
    _check_dependencies(in_order)
    for early in ([in_order[2], in_order[0], in_order[1]] + in_order[3:],
                  in_order[:3] + ["2013-06-02/inference", "2013-06-02/training",
                                  "2013-06-02/monitoring"] + in_order[6:],
                  in_order[:6] + ["2013-06-03/inference", "2013-06-03/feature"],
                  in_order[:5] + ["2013-06-03/feature", "2013-06-03/inference",
                                  "2013-06-02/training"]):
        with pytest.raises(AssertionError):
            _check_dependencies(early)


def test_a_failure_with_two_kernels_completes_the_days_before_it_and_stops(tiny):
    run_dir = tiny["reports"] / "runs" / "ahead-broken"
    faulty = dataclasses.replace(tiny["options"], monitor_every_days=0, features_ahead=5,
                                 inject_fault="visib_stuck", fault_start="2013-06-03")
    with pytest.raises(PipelineFailed, match="injected fault on 2013-06-03"):
        simulate("2013-06-01", "2013-06-06", run_dir, faulty)
    steps = {s["name"]: s["status"] for s in read_manifest(run_dir)["steps"]}
    assert steps["2013-06-03/feature"] == "failed"
    assert not [n for n in steps if n > "2013-06-03/feature"]  # nothing after it started
    assert steps["2013-06-02/inference"] == "ok" and "2013-06-03/inference" not in steps
    assert _executions(tiny["data"], "01_feature_pipeline") == 3


def test_a_failing_step_exits_non_zero_naming_notebook_cell_and_error(tiny, capsys):
    run_dir = tiny["reports"] / "runs" / "broken"
    code = cli.main(["simulate", "--start", "2013-06-01", "--end", "2013-06-03",
                     "--run-dir", str(run_dir), "--data-dir", str(tiny["data"]),
                     "--reports-dir", str(tiny["reports"]), "--no-html", "--monitor-every", "0",
                     "--inject-fault", "visib_stuck", "--fault-start", "2013-06-02"])
    err = capsys.readouterr().err
    assert code == 1
    assert "01_feature_pipeline.ipynb" in err
    assert "cell 3" in err and "if inject_fault ==" in err
    assert "ValueError: injected fault on 2013-06-02" in err
    assert "Traceback" not in err
    steps = {s["name"]: s for s in read_manifest(run_dir)["steps"]}
    failed = steps["2013-06-02/feature"]
    assert failed["status"] == "failed"
    assert (run_dir / failed["output"]).is_file()
    assert str(run_dir / failed["output"]) in err
    assert "2013-06-02/inference" not in steps and "2013-06-03/feature" not in steps
    assert _executions(tiny["data"], "03_inference_pipeline") == 1


def test_resume_skips_the_steps_that_were_ok_and_completes_the_rest(tiny):
    run_dir = tiny["reports"] / "runs" / "resumed"
    options = Options(data_dir=str(tiny["data"]), reports_dir=str(tiny["reports"]),
                      monitor_every_days=2, export_html=False)
    (tiny["data"] / "fail-2013-06-02").touch()
    with pytest.raises(PipelineFailed, match="outside the options"):
        simulate("2013-06-01", "2013-06-03", run_dir, options)
    with pytest.raises(Exception, match="--resume"):  # no accidental second run in a folder
        simulate("2013-06-01", "2013-06-03", run_dir, options)
    other = dataclasses.replace(options, monitor_every_days=1)
    with pytest.raises(Exception, match="monitor_every_days: 1 \\(the run has 2\\)"):
        simulate("2013-06-01", "2013-06-03", run_dir, other, resume=True)

    (tiny["data"] / "fail-2013-06-02").unlink()  # the cause is fixed
    results = simulate("2013-06-01", "2013-06-03", run_dir, options, resume=True)

    data = tiny["data"]
    assert _executions(data, "01_feature_pipeline", start_date="2013-06-01") == 1
    assert _executions(data, "03_inference_pipeline", run_date="2013-06-01") == 1
    assert _executions(data, "01_feature_pipeline", start_date="2013-06-02") == 2
    assert _executions(data, "03_inference_pipeline", run_date="2013-06-02") == 1
    assert _executions(data, "04_monitoring_pipeline", run_date="2013-06-03") == 1
    assert [r.reused for r in results[:2]] == [True, True]
    steps = read_manifest(run_dir)["steps"]
    assert [s["status"] for s in steps] == ["ok"] * 7 + ["skipped"]
    assert steps[2]["name"] == "2013-06-02/feature" and steps[2]["output"].startswith("003_")
    assert steps[-1]["name"] == "2013-06-03/training"  # monitoring saw no need
    assert _executions(data, "02_training_pipeline") == 0


def test_parameters_given_with_p_reach_the_notebook_with_their_types(tiny):
    code = cli.main(["run", "inference", "-p", "run_date=2013-06-05", "-p", "threshold=0.25",
                     "-p", "model_version=3", "-p", "model_alias=champion",
                     "--data-dir", str(tiny["data"]), "--reports-dir", str(tiny["reports"]),
                     "--no-html"])
    assert code == 0
    [(notebook, params)] = _log(tiny["data"])
    assert notebook == "03_inference_pipeline"
    assert params["run_date"] == ["2013-06-05", "str"]
    assert params["threshold"] == [0.25, "float"]
    assert params["model_version"] == [3, "int"]
    assert params["model_alias"] == ["champion", "str"]
    assert params["data_dir"] == [str(tiny["data"]), "str"]
    [run_dir] = (tiny["reports"] / "runs").iterdir()
    assert read_manifest(run_dir)["steps"][0]["status"] == "ok"


def test_a_parameter_the_notebook_lacks_is_refused_before_anything_runs(tiny, capsys):
    code = cli.main(["run", "inference", "-p", "run_dat=2013-06-05",
                     "--data-dir", str(tiny["data"]), "--reports-dir", str(tiny["reports"])])
    err = capsys.readouterr().err
    assert code == 1
    assert "run_dat" in err and "run_date" in err
    assert _log(tiny["data"]) == []


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), ("-2", -2), ("0.25", 0.25), ("1e-3", 0.001), ("True", True), ("false", False),
    ("None", None), ("2013-06-01", "2013-06-01"), ("hello", "hello"), ("", ""),
])
def test_p_values_are_typed_like_papermill_does(text, value):
    parsed = cli.parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_monitoring_is_due_every_n_days_after_the_first_day():
    first = pd.Timestamp("2013-06-01").date()
    due = [d.day for d in pd.date_range("2013-06-01", "2013-06-28").date if is_due(d, first, 7)]
    assert due == [8, 15, 22]
    assert not is_due(first, first, 0)
    assert is_due(first, None, 7)  # a lone day runs its whole cycle


def _links(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', page)


def test_the_index_links_only_to_files_that_exist(tiny, monkeypatch):
    reports, data = tiny["reports"], tiny["data"]
    run_dir = reports / "runs" / "20130601-000000-one"
    run_notebook("inference", {"run_date": "2013-06-01", "data_dir": str(data)}, run_dir,
                 "2013-06-01/inference")
    (reports / "monitoring" / "2013-06-08").mkdir(parents=True)
    (reports / "monitoring" / "2013-06-08" / "data_drift.html").write_text("<p>drift</p>")
    model = data / "models" / "flight_delay"
    for version, auc in ((1, 0.71), (2, 0.74)):
        (model / f"v{version}").mkdir(parents=True)
        (model / f"v{version}" / "model.json").write_text(json.dumps({
            "metrics": {"holdout": {"roc_auc": auc, "brier": 0.15}}, "created_at": "x",
            "lineage": {"train_start": "2013-01-01", "train_end": "2013-06-07"}}))
    (model / "aliases.json").write_text(json.dumps({"champion": 2, "history": [
        {"at": "2013-06-08", "alias": "champion", "version": 2, "previous": 1,
         "reason": "<better> on the holdout"}]}))
    history = pd.DataFrame({"run_date": ["2013-06-08", "2013-06-15"],
                            "retrain_recommended": [True, False], "reasons": ["drift", ""],
                            "drift_share": [0.5, 0.1], "roc_auc": [0.7, 0.72],
                            "brier": [0.16, 0.15], "base_rate": [0.29, 0.25],
                            "mean_prediction": [0.22, 0.24]})
    monkeypatch.setattr(report, "monitoring_history", lambda data: history)

    index = report.build_index(reports, data)

    page = index.read_text()
    files = [link for link in _links(page) if not link.startswith("data:image/png;base64,")]
    assert len(files) == 3  # the executed notebook, its HTML, the drift report
    for link in files:
        assert "://" not in link and not link.startswith("/")
        assert (index.parent / link).is_file()
    assert len(_links(page)) == 4  # and the plot, inline
    assert "0.740" in page and "Champion: v2" in page
    assert "&lt;better&gt; on the holdout" in page  # text is escaped
    assert "http" not in page


def test_the_index_builds_with_empty_reports_and_data_folders(tmp_path):
    index = report.build_index(tmp_path / "reports", tmp_path / "data")
    page = index.read_text()
    assert index == tmp_path / "reports" / "index.html"
    assert "No runs yet" in page and "No model registered yet" in page
    assert _links(page) == []


@pytest.mark.parametrize("command", [[], ["run"], ["day"], ["simulate"], ["demo"], ["report"],
                                     ["monitor"]])
def test_every_command_has_help(command):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "fti", *command, "--help"],
                          capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 0, done.stderr
    assert "usage: fti" in done.stdout


def test_the_cli_imports_nothing_heavy():
    code = ("import sys, fti.run.cli; "
            "print(sorted(m for m in ('pandas', 'papermill', 'nbconvert', 'matplotlib') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30)
    assert done.stdout.strip() == "[]"


def test_reading_decisions_leaves_the_chains_environment_alone(tmp_path):
    """A changed environment restarts the warm kernels; importing scikit-learn changes it."""
    code = ("import datetime, os, sys; from fti.run import plan; before = dict(os.environ); "
            f"o = plan.Options(data_dir={str(tmp_path)!r}); "
            "plan.training_due(datetime.date(2013, 6, 8), None, o, True); "
            "plan.champion_version(o); "
            "print(dict(os.environ) == before, 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split() == ["True", "False"], done.stderr


@pytest.mark.parametrize(("command", "notebook", "says"), [
    (["day", "2013-06-03", "--threshold", "1.5"], "03_inference_pipeline", "threshold=1.5"),
    (["simulate", "--start", "2013-12-30", "--end", "2014-01-01"], "01_feature_pipeline",
     "2014-01-01"),
    (["run", "inference", "-p", "run_date=2013-06-05", "-p", "threshold=2"],
     "03_inference_pipeline", "threshold=2"),
    (["demo", "--holdout-days", "0"], "02_training_pipeline", "holdout_days=0"),
])
def test_a_bad_parameter_is_refused_before_any_notebook_runs(tiny, capsys, command, notebook,
                                                             says):
    code = cli.main([*command, "--data-dir", str(tiny["data"]),
                     "--reports-dir", str(tiny["reports"]), "--no-html"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{notebook}.ipynb" in err and says in err and "Nothing was run" in err
    assert _log(tiny["data"]) == []  # no notebook ran, nothing was written


def test_fti_monitor_without_a_workspace_says_what_to_run(tmp_path, capsys):
    assert cli.main(["monitor", "--data-dir", str(tmp_path), "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "No Evidently workspace" in err and "make demo" in err
