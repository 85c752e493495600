"""Notebook 02's exercises: a challenger registered with promote='never'; a comparison that
would not be fair (the champion trained on the challenger's holdout days), refused and
recorded; and a new feature, for which one line of lib/fti/features.py is all that changes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from fti.config import repo_root
from fti.registry import ModelRegistry
from tests.exercises.conftest import TRAINING

pytestmark = pytest.mark.slow


def test_exercise_1_promote_never_registers_a_challenger_and_records_why(lab, copy_of, run):
    data = copy_of(lab)
    done = run("training", data, **TRAINING, promote="never", seed=7)
    assert "Registered flight_delay v2" in done.text
    assert "Not promoted: promote='never': registered without promotion" in done.text
    registry = ModelRegistry(data)
    assert registry.champion("flight_delay").version == 1  # inference keeps using v1
    last = registry.aliases("flight_delay")["history"][-1]
    assert (last["challenger"], last["promoted"], last["version"]) == (2, False, 1)
    assert last["reason"].startswith("promote='never'")


def test_exercise_2_no_comparison_on_days_the_champion_was_trained_on(lab, copy_of, run):
    data = copy_of(lab)
    later = run("training", data, **{**TRAINING, "train_end": "2013-06-07"}, promote="always")
    assert "PROMOTED: promote='always'" in later.text  # v2, held out on 1 to 7 June

    again = run("training", data, **TRAINING)  # the defaults again
    assert "Reused flight_delay v1" in again.text
    decision = re.search(r"Not promoted: (.*)", again.text)
    assert decision, again.text
    reason = decision.group(1)
    assert reason.startswith("no fair comparison, so the champion stays")
    # the champion's last training day, and the days of this holdout it learned from
    assert "champion v2 was trained on flights up to 2013-05-31" in reason
    assert "2013-05-25 to 2013-05-31 of this holdout" in reason
    assert "holdout starts after 2013-05-31" in reason
    registry = ModelRegistry(data)
    assert registry.champion("flight_delay").version == 2
    last = registry.aliases("flight_delay")["history"][-1]
    assert (last["challenger"], last["promoted"], last["reason"]) == (1, False, reason)


#: Exercise 3 in a copy of the library: the one line changed, then what 02 and 03 do.
_ADD_MONTH = textwrap.dedent("""
    import datetime as dt, json, sys
    from fti import features, inference, training
    from fti.registry import ModelRegistry
    from fti.store import FeatureStore
    data = sys.argv[1]
    store, registry = FeatureStore(data), ModelRegistry(data)
    view = features.FLIGHT_VIEW
    start, end = dt.date(2013, 5, 1), dt.date(2013, 5, 31)
    frame = view.training_data(store, start, end)
    split = training.split_by_time(frame, 7, start, end)
    model = training.fit(training.build_model(seed=42, max_iter=20), split.train)
    metrics = training.evaluate(split.holdout["delayed"], training.predict(model, split.holdout))
    dataset = training.save_snapshot(store, view, frame, start, end)
    record, _ = training.register_and_promote(registry, "flight_delay", model, split, dataset,
                                              metrics, metrics, "never", start, end, 42)
    day = dt.date(2013, 6, 1)
    todays = inference.features_for_day(store, view, day)
    scored = {}
    for version in (1, record.version):  # the champion without month, the new model with it
        old = registry.get("flight_delay", version=version)
        scored[version] = len(inference.score(registry.load(old), old, todays, 0.5, day))
    print(json.dumps({"features": training.FEATURES, "view": f"{view.name}/v{view.version}",
                      "registered": registry.get("flight_delay", version=record.version).features,
                      "champion": registry.champion("flight_delay").features, "scored": scored}))
""")


def test_exercise_3_adding_a_feature_changes_one_line_of_features_py(lab, copy_of, tmp_path):
    data = copy_of(lab)
    library = tmp_path / "lib"
    shutil.copytree(repo_root() / "lib" / "fti", library / "fti",
                    ignore=shutil.ignore_patterns("__pycache__"))
    source = library / "fti" / "features.py"
    text = source.read_text()
    spine = '"plane_age", "plane_seats"),'
    view = 'name="flight_delay",\n    version=1,'
    assert text.count(spine) == 1 and text.count(view) == 1, "the exercise's line moved"
    source.write_text(text.replace(spine, '"plane_age", "plane_seats", "month"),')
                      .replace(view, 'name="flight_delay",\n    version=2,'))

    env = {**os.environ, "PYTHONPATH": str(library), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", _ADD_MONTH, str(data)], capture_output=True,
                          text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["view"] == "flight_delay/v2"  # the edited copy, not the installed library
    assert "month" in seen["features"] and "month" in seen["registered"]
    assert "month" not in seen["champion"]  # the champion keeps its own feature list ...
    counts = list(seen["scored"].values())
    assert len(counts) == 2 and counts[0] == counts[1] > 500  # ... and both score the day
