"""Typed events a generation streams: text deltas, then one finish event."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.llm.stats import LatencySummary


@dataclass(frozen=True)
class TokenDelta:
    """New text from one sampled token (may be empty while a multi-byte char completes)."""

    text: str
    token_id: int
    index: int  # 0-based position among the generated tokens
    t: float  # time.monotonic() when the token was sampled


@dataclass(frozen=True)
class GenerationStats:
    """Timings of one generation, measured on the monotonic clock."""

    provider: str
    prompt_tokens: int
    cached_tokens: int  # prompt tokens whose KV cache was reused, not prefilled again
    new_tokens: int
    ttft_ms: float
    prefill_ms: float
    prefill_tok_s: float
    decode_ms: float
    decode_tok_s: float
    token_latencies_ms: tuple[float, ...] = field(repr=False, default=())
    peak_rss_mb: float = 0.0
    t_start: float = 0.0
    t_first_token: float = 0.0
    t_end: float = 0.0

    def to_dict(self, latencies: bool = False) -> dict[str, Any]:
        """Flat, for JSON: a session file's `stats`, `generate --json`."""
        data = asdict(self)
        if latencies:
            data["token_latencies_ms"] = list(self.token_latencies_ms)
        else:
            data.pop("token_latencies_ms")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationStats:
        """Back from `to_dict` (unknown keys ignored, missing optional ones defaulted)."""
        known = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in known}
        values["token_latencies_ms"] = tuple(values.get("token_latencies_ms", ()))
        return cls(**values)

    def inter_token(self) -> LatencySummary:
        """The distribution of the gaps between generated tokens."""
        return LatencySummary.of(self.token_latencies_ms)


@dataclass(frozen=True)
class GenerationFinished:
    """The last event of a generation: the whole text, why it stopped, and its timings."""

    text: str
    token_ids: tuple[int, ...]
    stop_reason: str  # eos | stop_string | max_tokens | context | grammar | cancelled
    stats: GenerationStats
    t: float


GenerationEvent = TokenDelta | GenerationFinished
