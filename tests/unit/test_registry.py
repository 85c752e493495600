"""The model registry: round trip, tamper and type refusal, aliases, promotion rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fti import registry as registry_module
from fti.cache import Recent
from fti.errors import NotFoundError, ParameterError, RegistryError
from fti.files import sha256_file, write_bytes
from fti.registry import ModelRegistry
from fti.training import FEATURES, build_model, decide_promotion


def tiny_training_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Flights whose delay depends on the scheduled hour and the carrier's recent record."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "carrier": rng.choice(["AA", "UA", "B6"], n),
        "origin": rng.choice(["EWR", "JFK", "LGA"], n),
        "dest": rng.choice(["ORD", "ATL", "LAX", "MIA"], n),
    }).astype("str")
    for col in FEATURES[3:]:
        frame[col] = rng.normal(size=n)
    frame["sched_hour"] = rng.integers(5, 23, n).astype(float)
    logit = (frame["sched_hour"] - 14) / 3 + 2 * frame["carrier_delayed_share_7d"]
    frame["delayed"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame


@pytest.fixture(scope="module")
def fitted():
    frame = tiny_training_frame()
    model = build_model(seed=0, max_iter=20).fit(frame[FEATURES], frame["delayed"].astype(int))
    return model, frame


def register(reg: ModelRegistry, model, name: str = "m") -> registry_module.ModelRecord:
    info = {"features": FEATURES, "metrics": {"holdout": {"roc_auc": 0.7}},
            "lineage": {"train_start": "2013-01-01", "train_end": "2013-01-31"}}
    return reg.register(name, model, info)


def test_a_registered_model_loads_back_and_predicts_the_same(tmp_path, fitted):
    model, frame = fitted
    reg = ModelRegistry(tmp_path)
    record = register(reg, model)
    assert record.version == 1 and record.model_file.exists()
    info = json.loads((record.path / "model.json").read_text())
    assert info["sha256"] == sha256_file(record.model_file)
    assert "scikit-learn" in info["packages"] and info["features"] == FEATURES
    loaded = reg.load(record)
    np.testing.assert_array_equal(loaded.predict_proba(frame[FEATURES]),
                                  model.predict_proba(frame[FEATURES]))
    assert register(reg, model).version == 2
    assert [r.version for r in reg.versions("m")] == [1, 2]


def test_a_tampered_model_file_is_refused(tmp_path, fitted):
    reg = ModelRegistry(tmp_path)
    record = register(reg, fitted[0])
    data = bytearray(record.model_file.read_bytes())
    data[-10] ^= 0xFF
    write_bytes(record.model_file, bytes(data))
    with pytest.raises(RegistryError, match="does not match its record"):
        reg.load(record)


def test_a_model_with_untrusted_types_is_refused_at_load(tmp_path, fitted, monkeypatch):
    reg = ModelRegistry(tmp_path)
    record = register(reg, fitted[0])
    monkeypatch.setattr(registry_module, "TRUSTED_TYPES", ())
    with pytest.raises(RegistryError, match="untrusted types"):
        reg.load(record)


def test_a_model_loaded_again_is_not_deserialized_again_and_each_caller_gets_its_own(
        tmp_path, fitted, monkeypatch):
    import skops.io as sio

    model, frame = fitted
    reg = ModelRegistry(tmp_path)
    record = register(reg, model)
    monkeypatch.setattr(registry_module, "_LOADED", Recent(2))
    calls = []
    real_loads = sio.loads
    monkeypatch.setattr(sio, "loads", lambda *a, **k: calls.append(1) or real_loads(*a, **k))
    first, second = reg.load(record), reg.load(record)
    assert len(calls) == 1 and first is not second
    first.set_params(trees__max_iter=1)  # one caller changing its model ...
    assert second.get_params()["trees__max_iter"] == model.get_params()["trees__max_iter"]
    np.testing.assert_array_equal(second.predict_proba(frame[FEATURES]),
                                  model.predict_proba(frame[FEATURES]))
    data = bytearray(record.model_file.read_bytes())  # ... and a file changed after loading
    data[-10] ^= 0xFF
    write_bytes(record.model_file, bytes(data))
    with pytest.raises(RegistryError, match="does not match its record"):
        reg.load(record)


def double(values):
    """A function of our own: skops cannot know whether loading it is safe."""
    return 2 * values


def test_registering_a_model_with_unreviewed_types_is_refused(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(FunctionTransformer(double))
    model.fit(np.ones((3, 1)))
    reg = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="TRUSTED_TYPES"):
        reg.register("m", model, {})
    assert reg.version_numbers("m") == []
    assert not (tmp_path / "models" / "m").exists()  # no half-written version, no empty folder


def test_unknown_alias_and_version_say_what_to_run(tmp_path, fitted):
    reg = ModelRegistry(tmp_path)
    with pytest.raises(NotFoundError, match="training pipeline"):
        reg.get("m", alias="champion")
    register(reg, fitted[0])
    with pytest.raises(NotFoundError, match="no version 7"):
        reg.get("m", version=7)
    assert reg.champion("m") is None


def test_aliases_move_atomically_and_keep_their_history(tmp_path, fitted):
    reg = ModelRegistry(tmp_path)
    register(reg, fitted[0])
    register(reg, fitted[0])
    reg.set_alias("m", "champion", 1, "first", at="2013-06-01")
    reg.set_alias("m", "champion", 2, "better", at="2013-06-08")
    aliases = reg.aliases("m")
    assert aliases["champion"] == 2 and reg.champion("m").version == 2
    assert [(h["version"], h["previous"], h["reason"]) for h in aliases["history"]] == [
        (1, None, "first"), (2, 1, "better")]
    with pytest.raises(NotFoundError):
        reg.set_alias("m", "champion", 9, "missing", at="2013-06-09")
    assert reg.aliases("m")["champion"] == 2
    assert not list((tmp_path / "models" / "m").glob(".*tmp"))


@pytest.mark.parametrize(
    ("policy", "new", "old", "promote", "words"),
    [
        ("if_better", 0.75, None, True, "no champion yet"),
        ("if_better", 0.75, 0.70, True, "beats"),
        ("if_better", 0.70, 0.75, False, "champion stays"),
        ("if_better", 0.70, 0.70, False, "champion stays"),
        ("always", 0.60, 0.75, True, "always"),
        ("never", 0.90, None, False, "never"),
    ],
)
def test_promotion_policy(policy, new, old, promote, words):
    decision = decide_promotion(policy, {"roc_auc": new}, None if old is None else {"roc_auc": old})
    assert decision.promote is promote
    assert words in decision.reason


def test_an_unknown_promotion_policy_is_refused():
    with pytest.raises(ParameterError, match="if_better"):
        decide_promotion("sometimes", {"roc_auc": 0.7}, None)
