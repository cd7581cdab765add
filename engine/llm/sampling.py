"""Pick the next token from one row of logits: a small, pure, seedable NumPy function.

`sample` follows the order Hugging Face's `generate` uses: repetition penalty, then
temperature, top-k, top-p, min-p, and one draw. Temperature 0 is greedy decoding, which
never copies or sorts the vocabulary (it runs once per token on rows of 262,144 logits).
A logit of -inf (a token masked by a grammar) is never chosen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

#: Top-p first looks at this many of the most likely tokens and widens only if needed.
_NUCLEUS_START = 64
#: A full-vocabulary draw sums blocks of this many weights before looking inside one.
_BLOCK = 1024


@dataclass(frozen=True)
class SamplingParams:
    """How to choose each token. Every filter's neutral value turns it off.

    `temperature` 0 (the default) means greedy. `repetition_penalty` works as in CTRL and
    Hugging Face: the logit of every token already seen is divided by it when positive and
    multiplied by it when negative. `seed` makes the draws repeatable (see `make_rng`).
    """

    temperature: float = 0.0  # greedy unless asked: reproducible by default
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        _check_number("temperature", self.temperature, ">= 0 (0 = greedy)", lambda v: v >= 0)
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise ValueError(f"top_k must be an integer >= 0 (0 = off), got {self.top_k!r}")
        _check_number("top_p", self.top_p, "in (0, 1] (1 = off)", lambda v: 0 < v <= 1)
        _check_number("min_p", self.min_p, "in [0, 1] (0 = off)", lambda v: 0 <= v <= 1)
        _check_number(
            "repetition_penalty", self.repetition_penalty, "> 0 (1 = off)", lambda v: v > 0
        )
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0
        ):
            raise ValueError(f"seed must be None or an integer >= 0, got {self.seed!r}")

    @property
    def greedy(self) -> bool:
        """True when the most likely token is always taken (temperature 0)."""
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingParams:
        """Build from a dict such as `to_dict` returns; missing keys take their defaults."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown sampling parameter(s): {', '.join(unknown)}")
        return cls(**data)


def _check_number(name: str, value: object, allowed: str, ok: Callable[[float], bool]) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not ok(value)
    ):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")


def make_rng(seed: int | None) -> np.random.Generator:
    """A random generator for `sample`: the same seed gives the same tokens."""
    return np.random.default_rng(seed)


def sample(
    logits: np.ndarray,
    params: SamplingParams,
    rng: np.random.Generator,
    seen: np.ndarray | None = None,
) -> int:
    """Return the id of the next token. `logits` is one 1-D row; it is never modified.

    `seen` holds the token ids the repetition penalty applies to (duplicates are fine).
    A sampled token uses exactly one draw from `rng`; a greedy one uses none.
    Raises ValueError when every logit is -inf, or a logit is NaN or +inf.
    """
    if logits.ndim != 1 or logits.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D row, got shape {logits.shape}")
    penalty = params.repetition_penalty
    ids = _seen_ids(seen, logits.size) if penalty != 1.0 else None
    if params.greedy:
        return _greedy(logits, ids, penalty)

    # Repetition penalty: on a copy, so the caller's row stays as it was.
    row = logits
    if ids is not None and ids.size:
        row = logits.copy()
        row[ids] = _penalize(row[ids], penalty)
    # Top-k: keep the k largest logits (argpartition is linear; no full sort).
    cand: np.ndarray | None = None
    if 0 < params.top_k < row.size:
        cand = np.argpartition(row, row.size - params.top_k)[row.size - params.top_k :]
        row = row[cand]
    # Temperature and softmax weights, stable: subtract the max first, so the best is 1.
    top = row.max()
    _check_top(top)
    weights = np.exp((row - top) / params.temperature)
    # Top-p: the smallest set of most likely tokens whose probability reaches top_p.
    keep: np.ndarray | None = None
    if params.top_p < 1.0:
        keep = _nucleus(weights, params.top_p)
    # Min-p: drop tokens less likely than min_p times the best one (whose weight is 1).
    if params.min_p > 0.0:
        if keep is None:
            keep = np.flatnonzero(weights >= params.min_p)
        else:
            keep = keep[weights[keep] >= params.min_p]
    # Draw one token from what is left, in proportion to its weight (-inf has weight 0).
    kept = weights if keep is None else weights[keep]
    pick = _draw(kept, rng)
    pick = pick if keep is None else int(keep[pick])
    return pick if cand is None else int(cand[pick])


def _seen_ids(seen: np.ndarray | None, vocab: int) -> np.ndarray | None:
    if seen is None or len(seen) == 0:
        return None
    ids = np.unique(np.asarray(seen, dtype=np.int64))
    if ids[0] < 0 or ids[-1] >= vocab:
        raise ValueError(f"seen token ids must be in [0, {vocab}), got {ids[0]}..{ids[-1]}")
    return ids


def _penalize(values: np.ndarray, penalty: float) -> np.ndarray:
    return np.where(values > 0, values / penalty, values * penalty).astype(values.dtype, copy=False)


def _check_top(value: np.floating[Any]) -> None:
    if value == -np.inf:
        raise ValueError("every token is masked (all logits are -inf)")
    if not np.isfinite(value):
        raise ValueError(f"logits must be finite or -inf, found {value}")


def _greedy(logits: np.ndarray, ids: np.ndarray | None, penalty: float) -> int:
    """Argmax of the penalised row without building it: only seen entries are copied."""
    best = int(np.argmax(logits))  # argmax stops at the first NaN, so this also finds NaN
    _check_top(logits[best])
    if ids is None:
        return best
    if ids.size == logits.size:  # every token seen: the penalised row is small enough
        return int(np.argmax(_penalize(logits, penalty)))
    penalized = _penalize(logits[ids], penalty)
    limit = penalized.max()
    at = int(np.searchsorted(ids, best))
    best_seen = at < ids.size and ids[at] == best
    if not best_seen and limit < logits[best]:
        return best  # the usual case: the winner was not seen, and nothing seen overtook it
    # Only tokens at or above the best penalised logit can still win. If a strong penalty
    # lets too many through, raise the bar to the best unseen logit: it is among the
    # (seen + 1) largest logits.
    cand = np.flatnonzero(logits >= limit)
    if cand.size > 2 * ids.size + _NUCLEUS_START:
        k = ids.size + 1
        largest = np.argpartition(logits, logits.size - k)[logits.size - k :]
        unseen = largest[~np.isin(largest, ids, assume_unique=True)]
        cand = np.flatnonzero(logits >= max(limit, logits[unseen].max()))
    # Compare the candidates with their penalised values; argmax keeps the lowest id on ties.
    cand = np.union1d(cand, ids)
    values = logits[cand]
    values[np.searchsorted(cand, ids)] = penalized
    return int(cand[np.argmax(values)])


def _nucleus(weights: np.ndarray, top_p: float) -> np.ndarray:
    """Indices of the most likely tokens, best first, whose mass first reaches top_p."""
    target = top_p * float(weights.sum(dtype=np.float64))
    n = weights.size
    k = min(n, _NUCLEUS_START)
    while True:
        part = np.argpartition(weights, n - k)[n - k :] if k < n else np.arange(n)
        order = part[np.argsort(-weights[part], kind="stable")]
        mass = np.cumsum(weights[order], dtype=np.float64)
        count = int(np.searchsorted(mass, target, side="left")) + 1
        if count <= k or k == n:
            return order[: min(count, k)]
        k = min(n, k * 8)  # the k most likely were not enough: look at more


def _draw(weights: np.ndarray, rng: np.random.Generator) -> int:
    """One index, with probability proportional to its weight; never a zero weight."""
    # A running sum over the whole vocabulary is slow (it cannot be vectorised), so sum
    # fixed-size blocks first, pick a block, then run the sum inside that block only.
    n = weights.size
    full = n - n % _BLOCK
    if full < 2 * _BLOCK:
        return _pick(np.cumsum(weights, dtype=np.float64), rng.random())
    sums = weights[:full].reshape(-1, _BLOCK).sum(axis=1, dtype=np.float64)
    if full < n:
        sums = np.append(sums, weights[full:].sum(dtype=np.float64))
    block_cdf = np.cumsum(sums)
    u = rng.random()
    block = _pick(block_cdf, u)
    below = block_cdf[block - 1] if block else 0.0
    start = block * _BLOCK
    inner = np.cumsum(weights[start : start + _BLOCK], dtype=np.float64)
    # Where the draw fell inside the chosen block, as a fraction of that block's mass.
    within = (u * block_cdf[-1] - below) / (block_cdf[block] - below)
    return start + _pick(inner, min(max(within, 0.0), 1.0))


def _pick(cdf: np.ndarray, u: float) -> int:
    """Index where the fraction `u` of the total falls in a running sum `cdf`."""
    # side="right" never lands on a zero weight (a masked token).
    pick = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
    if pick == cdf.size:  # rounding put the draw at the very end: take the last real one
        pick = int(np.searchsorted(cdf, cdf[-1], side="left"))
    return pick
