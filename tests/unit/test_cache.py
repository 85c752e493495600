"""The per-process store of recent results (fti.cache)."""

from __future__ import annotations

from fti.cache import Recent


def test_a_kept_result_is_not_computed_again_and_the_least_recently_used_goes_first():
    calls: list[str] = []

    def compute(key: str):
        return lambda: calls.append(key) or key.upper()

    kept = Recent[str](2)
    assert kept.get("a", compute("a")) == "A" and kept.get("b", compute("b")) == "B"
    assert kept.get("a", compute("a")) == "A"  # kept: not computed again, now the newest
    kept.get("c", compute("c"))  # one too many: "b" was used longest ago
    assert len(kept) == 2
    kept.get("a", compute("a"))
    kept.get("b", compute("b"))
    assert calls == ["a", "b", "c", "b"]
