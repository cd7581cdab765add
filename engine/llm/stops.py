"""Stop strings on a text stream: hold back what could be the start of a stop string."""

from __future__ import annotations

from collections.abc import Sequence


class StopMatcher:
    """Feed text deltas; get back the text that is safe to show and whether a stop hit.

    Text that might be the beginning of a stop string is held until it is known not to
    be; the stop string itself and anything after it is never shown.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._held = ""
        self.hit: str | None = None

    def feed(self, delta: str, final: bool = False) -> tuple[str, bool]:
        if self.hit is not None:
            return "", True
        if not self.stops:
            return delta, False
        text = self._held + delta
        first = min(
            ((text.find(s), s) for s in self.stops if s in text),
            default=None,
        )
        if first is not None:
            index, stop = first
            self.hit = stop
            self._held = ""
            return text[:index], True
        if final:
            self._held = ""
            return text, False
        keep = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:k]):
                    keep = max(keep, k)
                    break
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep], False
