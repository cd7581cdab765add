"""Quality of a quantized model against its fp32 export: teacher-forced agreement, perplexity."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.paths import resource
from engine.progress import Reporter

#: The fixed validation text (original prose shipped in engine/resources/validation/).
REFERENCE_TEXT = resource("validation", "reference.txt")


def reference_text() -> str:
    return REFERENCE_TEXT.read_text(encoding="utf-8")


def log_softmax(rows: np.ndarray) -> np.ndarray:
    shifted = rows - rows.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def perplexity(logits: np.ndarray, ids: list[int]) -> float:
    """exp(mean NLL) of ids[1:] given teacher-forced rows logits[:-1]."""
    return _perplexity(log_softmax(logits[:-1].astype(np.float64)), ids)


def _perplexity(log_probs: np.ndarray, ids: list[int]) -> float:
    nll = -log_probs[np.arange(len(ids) - 1), np.asarray(ids[1:])]
    return float(np.exp(nll.mean()))


def compare(
    reference: Any, candidate: Any, ids: list[int], report: Reporter | None = None
) -> dict[str, Any]:
    """Teacher-force `ids` through two LLMSessions; agreement of top-1 and perplexities."""
    if report:
        report("validate", 0, 2, "reference (fp32)")
    ref = reference.logits_for(ids)
    if report:
        report("validate", 1, 2, "candidate")
    cand = candidate.logits_for(ids)
    if report:
        report("validate", 2, 2, "done")
    return summarize(ref, cand, ids)


def summarize(ref: np.ndarray, cand: np.ndarray, ids: list[int]) -> dict[str, Any]:
    # Each log-softmax over a 262k vocabulary is ~0.7 GB in float64: compute each once.
    lp_ref = log_softmax(ref[:-1].astype(np.float64))
    lp_cand = log_softmax(cand[:-1].astype(np.float64))
    kl = (np.exp(lp_ref) * (lp_ref - lp_cand)).sum(axis=-1)
    return {
        "tokens": len(ids) - 1,
        "top1_agreement": float((ref[:-1].argmax(axis=-1) == cand[:-1].argmax(axis=-1)).mean()),
        "perplexity_fp32": _perplexity(lp_ref, ids),
        "perplexity": _perplexity(lp_cand, ids),
        "mean_kl": float(kl.mean()),
        "text": "engine/resources/validation/reference.txt",
    }
