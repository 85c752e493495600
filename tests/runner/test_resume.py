"""Resuming a run: every option comes from the run's manifest; a contradicting one is refused.

The tiny stand-in notebooks of test_orchestrate log each execution's parameters to
``<data_dir>/log.jsonl``; a feature run fails while ``<data_dir>/fail-<day>`` exists.
"""

from __future__ import annotations

from fti.run import cli
from fti.run.plan import notebook_defaults
from fti.run.runs import read_manifest
from tests.runner.test_orchestrate import _executions, _log, tiny  # noqa: F401 (a fixture)


def _simulate(*args: str) -> int:
    return cli.main(["simulate", "--no-html", *args])


def test_resume_takes_every_option_from_the_manifest(tiny, monkeypatch, capsys):  # noqa: F811
    # the reproduction: relative folders, a cadence option, a failure on day 2
    work = tiny["data"].parent
    monkeypatch.chdir(work)
    run_dir = tiny["reports"] / "runs" / "sim"
    (tiny["data"] / "fail-2013-03-02").touch()
    code = _simulate("--start", "2013-03-01", "--end", "2013-03-03", "--data-dir", "data",
                     "--reports-dir", "reports", "--run-dir", str(run_dir),
                     "--monitor-every", "2", "--threshold", "0.4")
    assert code == 1
    (tiny["data"] / "fail-2013-03-02").unlink()
    recorded = read_manifest(run_dir)["options"]
    assert recorded["data_dir"] == str(tiny["data"]) and recorded["monitor_every_days"] == 2

    monkeypatch.chdir(tiny["notebooks"])  # elsewhere; $FTI_DATA_DIR points elsewhere, too
    assert _simulate("--resume", "--run-dir", str(run_dir)) == 0

    logged = _log(tiny["data"])
    assert {params["data_dir"][0] for _, params in logged} == {str(tiny["data"])}
    assert not (work / "not_here").exists()  # nothing went to $FTI_DATA_DIR
    assert _executions(tiny["data"], "04_monitoring_pipeline", run_date="2013-03-03") == 1
    assert {params["threshold"][0] for nb, params in logged
            if nb == "03_inference_pipeline"} == {0.4}
    manifest = read_manifest(run_dir)
    assert manifest["options"] == recorded  # not rewritten by the resume
    assert [s["status"] for s in manifest["steps"]][-1] in ("ok", "skipped")
    assert (tiny["reports"] / "index.html").is_file()  # the run's reports folder


def test_resume_refuses_an_option_that_contradicts_the_run_and_accepts_an_agreeing_one(
        tiny, capsys):  # noqa: F811
    run_dir = tiny["reports"] / "runs" / "sim"
    (tiny["data"] / "fail-2013-03-02").touch()
    folders = ["--data-dir", str(tiny["data"]), "--reports-dir", str(tiny["reports"])]
    assert _simulate("--start", "2013-03-01", "--end", "2013-03-02", "--run-dir", str(run_dir),
                     "--monitor-every", "0", *folders) == 1
    before = read_manifest(run_dir)
    capsys.readouterr()

    for extra, named in ((["--threshold", "0.9"], "threshold: 0.9 (the run has None)"),
                         (["--monitor-every", "3"], "monitor_every_days: 3 (the run has 0)"),
                         (["--data-dir", str(tiny["data"] / "other")], "data_dir"),
                         (["--end", "2013-03-05"], "--end 2013-03-05 (the run has 2013-03-02)")):
        assert _simulate("--resume", "--run-dir", str(run_dir), *extra) == 1
        err = capsys.readouterr().err
        assert named in err and "--run-dir" in err, err
    assert read_manifest(run_dir) == before  # refused before anything ran or was recorded

    (tiny["data"] / "fail-2013-03-02").unlink()
    default = notebook_defaults("inference")["threshold"]  # what the run's None stands for
    assert _simulate("--resume", "--run-dir", str(run_dir), "--threshold", str(default),
                     "--monitor-every", "0", *folders) == 0


def test_resume_of_a_run_folder_that_does_not_exist_says_so(tiny, capsys):  # noqa: F811
    missing = tiny["reports"] / "runs" / "no-such-run"
    assert _simulate("--resume", "--run-dir", str(missing)) == 1
    err = capsys.readouterr().err
    assert f"There is no run to resume in {missing}" in err
    assert "does not exist" in err and "without --resume" in err
    assert not missing.exists() and _log(tiny["data"]) == []
    assert cli.main(["demo", "--resume"]) == 1
    assert "--run-dir" in capsys.readouterr().err


def test_a_day_resumes_with_its_own_date_and_options(tiny, capsys):  # noqa: F811
    run_dir = tiny["reports"] / "runs" / "day"
    folders = ["--data-dir", str(tiny["data"]), "--reports-dir", str(tiny["reports"])]
    (tiny["data"] / "fail-2013-06-01").touch()
    assert cli.main(["day", "2013-06-01", "--run-dir", str(run_dir), "--no-html",
                     "--threshold", "0.3", *folders]) == 1
    (tiny["data"] / "fail-2013-06-01").unlink()
    capsys.readouterr()
    assert cli.main(["day", "2013-06-02", "--resume", "--run-dir", str(run_dir)]) == 1
    assert "holds the run of 2013-06-01" in capsys.readouterr().err
    assert cli.main(["day", "2013-06-01", "--resume", "--run-dir", str(run_dir)]) == 0
    assert {p["threshold"][0] for nb, p in _log(tiny["data"])
            if nb == "03_inference_pipeline"} == {0.3}
