"""sample() and SamplingParams, tested on hand-made logits: no model needed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.llm.sampling import SamplingParams, make_rng, sample

GREEDY = SamplingParams(temperature=0)


def _draws(logits: np.ndarray, params: SamplingParams, n: int, seed: int = 0) -> np.ndarray:
    rng = make_rng(seed)
    return np.array([sample(logits, params, rng) for _ in range(n)])


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _chi_square(picks: np.ndarray, probs: np.ndarray) -> float:
    observed = np.bincount(picks, minlength=probs.size)
    expected = probs * picks.size
    assert observed[expected == 0].sum() == 0
    live = expected > 0
    return float((((observed - expected) ** 2)[live] / expected[live]).sum())


def _reference_greedy(logits: np.ndarray, seen: np.ndarray, penalty: float) -> int:
    row = logits.copy()
    ids = np.unique(seen)
    row[ids] = np.where(row[ids] > 0, row[ids] / penalty, row[ids] * penalty)
    return int(np.argmax(row))


def test_greedy_is_argmax() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        row = rng.standard_normal(1000).astype(np.float32)
        assert sample(row, GREEDY, make_rng(None)) == int(np.argmax(row))


def test_sample_never_modifies_its_inputs() -> None:
    row = np.random.default_rng(4).standard_normal(5000).astype(np.float32)
    seen = np.array([1, 2, 2, int(np.argmax(row))])
    before, seen_before = row.copy(), seen.copy()
    for params in [
        SamplingParams(temperature=0, repetition_penalty=1.5),
        SamplingParams(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, repetition_penalty=1.5),
    ]:
        sample(row, params, make_rng(0), seen)
    np.testing.assert_array_equal(row, before)
    np.testing.assert_array_equal(seen, seen_before)


def test_same_seed_same_draws() -> None:
    row = np.random.default_rng(5).standard_normal(3000).astype(np.float32)
    params = SamplingParams(temperature=1.3, top_p=0.95, seed=11)
    first = _draws(row, params, 100, seed=11)
    np.testing.assert_array_equal(first, _draws(row, params, 100, seed=11))
    assert not np.array_equal(first, _draws(row, params, 100, seed=12))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_temperature_matches_softmax(temperature: float) -> None:
    logits = np.array([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, -np.inf], dtype=np.float32)
    picks = _draws(logits, SamplingParams(temperature=temperature), 20_000)
    # 6 degrees of freedom: the 0.999 quantile is 22.5; the seed is fixed, so no flakes.
    assert _chi_square(picks, _softmax(logits / temperature)) < 22.5


def test_draw_over_a_large_vocabulary_matches_softmax() -> None:
    # Big enough that the draw sums blocks first; the live tokens sit in different
    # blocks, including the first, the last and a partial one at the end.
    logits = np.full(5000, -np.inf, dtype=np.float32)
    live = np.array([0, 1023, 1024, 2500, 4095, 4999])
    logits[live] = [1.0, 0.0, 2.0, 0.5, -1.0, 1.5]
    picks = _draws(logits, SamplingParams(temperature=1.0), 20_000)
    assert set(np.unique(picks)) == set(live.tolist())
    assert _chi_square(picks, _softmax(logits)) < 20.5  # 5 dof, 0.999 quantile


def test_top_k_one_equals_greedy() -> None:
    rng = np.random.default_rng(6)
    for seed in range(30):
        row = rng.standard_normal(2000).astype(np.float32)
        params = SamplingParams(temperature=1.5, top_k=1)
        assert sample(row, params, make_rng(seed)) == int(np.argmax(row))


def test_top_k_keeps_only_the_k_best() -> None:
    logits = np.array([0.1, 3.0, 0.2, 2.9, 0.3, 2.8, 0.0], dtype=np.float32)
    picks = _draws(logits, SamplingParams(temperature=5.0, top_k=3), 3000)
    assert set(np.unique(picks)) == {1, 3, 5}


def test_top_p_tiny_equals_greedy() -> None:
    rng = np.random.default_rng(7)
    for seed in range(30):
        row = rng.standard_normal(2000).astype(np.float32)
        params = SamplingParams(temperature=1.5, top_p=1e-6)
        assert sample(row, params, make_rng(seed)) == int(np.argmax(row))


def test_top_p_keeps_the_nucleus() -> None:
    logits = np.log(np.array([0.05, 0.5, 0.15, 0.3], dtype=np.float32))
    picks = _draws(logits, SamplingParams(temperature=1.0, top_p=0.75), 3000)
    assert set(np.unique(picks)) == {1, 3}  # 0.5 + 0.3 reaches 0.75
    picks = _draws(logits, SamplingParams(temperature=1.0, top_p=0.85), 3000)
    assert set(np.unique(picks)) == {1, 2, 3}


def test_top_p_wider_than_the_first_look() -> None:
    # Nearly flat: the nucleus holds hundreds of tokens, more than the first guess.
    logits = (-0.001 * np.arange(1000)).astype(np.float32)
    np.random.default_rng(8).shuffle(logits)
    probs = _softmax(logits.astype(np.float64))
    order = np.argsort(-probs)
    before = np.cumsum(probs[order]) - probs[order]
    nucleus = set(order[before < 0.5].tolist())
    assert len(nucleus) > 300
    picks = _draws(logits, SamplingParams(temperature=1.0, top_p=0.5), 5000)
    assert set(np.unique(picks)) == nucleus


def test_min_p_drops_unlikely_tokens() -> None:
    logits = np.log(np.array([0.04, 0.6, 0.06, 0.3], dtype=np.float32))
    picks = _draws(logits, SamplingParams(temperature=1.0, min_p=0.2), 3000)
    assert set(np.unique(picks)) == {1, 3}  # 0.2 * 0.6 = 0.12 keeps 0.6 and 0.3
    picks = _draws(logits, SamplingParams(temperature=1.0, min_p=0.05), 3000)
    assert set(np.unique(picks)) == {0, 1, 2, 3}
    assert set(np.unique(_draws(logits, SamplingParams(min_p=1.0), 100))) == {1}


def test_repetition_penalty_divides_positive_logits() -> None:
    logits = np.array([2.0, 1.9, -1.0], dtype=np.float32)
    params = SamplingParams(temperature=0, repetition_penalty=1.2)
    assert sample(logits, GREEDY, make_rng(0), np.array([0])) == 0
    assert sample(logits, params, make_rng(0), np.array([0])) == 1  # 2.0 / 1.2 < 1.9
    assert sample(logits, params, make_rng(0), np.array([1])) == 0


def test_repetition_penalty_multiplies_negative_logits() -> None:
    logits = np.array([-1.0, -1.1, -5.0], dtype=np.float32)
    params = SamplingParams(temperature=0, repetition_penalty=1.2)
    # Dividing would raise -1.0 to -0.83; multiplying lowers it to -1.2, below -1.1.
    assert sample(logits, params, make_rng(0), np.array([0, 0])) == 1


def test_repetition_penalty_below_one_favours_seen_tokens() -> None:
    logits = np.array([1.0, 2.0, -3.0], dtype=np.float32)
    params = SamplingParams(temperature=0, repetition_penalty=0.4)
    assert sample(logits, params, make_rng(0), np.array([0])) == 0  # 1.0 / 0.4 > 2.0


def test_repetition_penalty_also_applies_when_sampling() -> None:
    logits = np.array([2.0, 1.9, -1.0], dtype=np.float32)
    params = SamplingParams(temperature=1.0, top_k=1, repetition_penalty=1.2)
    assert sample(logits, params, make_rng(0), np.array([0])) == 1


def test_greedy_with_penalty_matches_a_full_copy() -> None:
    # Small integer logits make ties common: the lowest id must win, as with np.argmax.
    rng = np.random.default_rng(9)
    for _ in range(500):
        n = int(rng.integers(1, 60))
        row = np.round(rng.standard_normal(n) * 2).astype(np.float32)
        row[rng.random(n) < 0.2] = -np.inf
        if np.all(row == -np.inf):
            continue
        seen = rng.integers(0, n, int(rng.integers(1, 2 * n + 1)))
        penalty = float(rng.choice([0.5, 0.9, 1.3, 5.0, 100.0]))
        params = SamplingParams(temperature=0, repetition_penalty=penalty)
        assert sample(row, params, make_rng(0), seen) == _reference_greedy(row, seen, penalty)


def test_masked_tokens_are_never_chosen() -> None:
    rng = np.random.default_rng(10)
    logits = rng.standard_normal(4000).astype(np.float32) * 4
    allowed = np.array([3, 17, 2048, 3999])
    masked = np.full_like(logits, -np.inf)
    masked[allowed] = logits[allowed] - 10  # allowed tokens are far from the best ones
    seen = np.arange(0, 4000, 7)
    for params in [
        SamplingParams(temperature=0),
        SamplingParams(temperature=0, repetition_penalty=0.5),
        SamplingParams(temperature=3.0),
        SamplingParams(temperature=3.0, top_k=100),
        SamplingParams(temperature=3.0, top_p=0.99),
        SamplingParams(temperature=3.0, min_p=0.001, repetition_penalty=2.0),
    ]:
        rng_draws = make_rng(1)
        picks = {sample(masked, params, rng_draws, seen) for _ in range(300)}
        assert picks <= set(allowed.tolist()), params


@pytest.mark.parametrize("params", [GREEDY, SamplingParams(temperature=0.8, top_p=0.9)])
def test_all_masked_raises(params: SamplingParams) -> None:
    with pytest.raises(ValueError, match="masked"):
        sample(np.full(10, -np.inf, dtype=np.float32), params, make_rng(0))


@pytest.mark.parametrize("params", [GREEDY, SamplingParams(temperature=0.8)])
def test_nan_raises(params: SamplingParams) -> None:
    row = np.zeros(10, dtype=np.float32)
    row[4] = np.nan
    with pytest.raises(ValueError, match="finite"):
        sample(row, params, make_rng(0))


def test_bad_rows_and_seen_ids_raise() -> None:
    with pytest.raises(ValueError, match="1-D"):
        sample(np.zeros((2, 3), dtype=np.float32), GREEDY, make_rng(0))
    with pytest.raises(ValueError, match="seen"):
        params = SamplingParams(temperature=0, repetition_penalty=1.1)
        sample(np.zeros(3, dtype=np.float32), params, make_rng(0), np.array([3]))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -0.1),
        ("temperature", float("nan")),
        ("top_k", -1),
        ("top_k", 2.5),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("min_p", -0.1),
        ("min_p", 1.1),
        ("repetition_penalty", 0.0),
        ("repetition_penalty", float("inf")),
        ("seed", -1),
        ("seed", "7"),
    ],
)
def test_invalid_params_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        SamplingParams(**{field: value})


def test_params_round_trip_and_greedy_flag() -> None:
    params = SamplingParams(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, seed=3)
    assert SamplingParams.from_dict(params.to_dict()) == params
    assert SamplingParams.from_dict({"temperature": 0}).greedy
    assert not params.greedy
    with pytest.raises(ValueError, match="top_q"):
        SamplingParams.from_dict({"top_q": 0.5})
