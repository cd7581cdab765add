"""Turn a stream of token ids into a stream of text, one small delta per token.

Decoding each token on its own is wrong in three ways: a character split over several
byte tokens (`<0xE2><0x82><0xAC>` is "€") would come out as U+FFFD pieces; a
SentencePiece '▁' at the start of a decode may be dropped; and some decoders change
text at the edges of what they are given. So, like Hugging Face text-generation-inference
and vLLM, we decode a short window of recent ids twice: once up to the text already
emitted ("prefix") and once up to the newest id, and emit the difference. Text that ends
in an unfinished character (U+FFFD) is held back until the next token completes it.
"""

from __future__ import annotations

from tokenizers import Tokenizer

#: Most tokens held back waiting for a character to complete. A valid UTF-8 character
#: spans at most 4 bytes, so only an invalid byte run can reach this; it is then emitted
#: as U+FFFD, which keeps the work per token bounded.
MAX_HELD_TOKENS = 16

_REPLACEMENT = "\ufffd"


class IncrementalDetokenizer:
    """Decode generated token ids one at a time into text deltas.

    The joined deltas plus `flush()` equal `tokenizer.decode(all_ids)` for valid text.
    Each `add` decodes only the ids since the last emitted text, so its cost does not
    grow with the length of the generation.
    """

    def __init__(self, tokenizer: Tokenizer, skip_special_tokens: bool = True) -> None:
        self._tokenizer = tokenizer
        self._skip_special = skip_special_tokens
        # Ids from the start of the prefix on; `_read` ids of them are already emitted.
        self._window: list[int] = []
        self._read = 0
        self._parts: list[str] = []
        self._count = 0

    @property
    def text(self) -> str:
        """All text emitted so far (held-back bytes are not included until completed)."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def token_count(self) -> int:
        """How many ids have been added."""
        return self._count

    def add(self, token_id: int) -> str:
        """Add one id; return the text it completes, which may be ""."""
        self._window.append(token_id)
        self._count += 1
        prefix, full = self._decode()
        held = len(self._window) - self._read
        if len(full) > len(prefix) and not full.endswith(_REPLACEMENT):
            return self._emit(full[len(prefix) :])
        if held >= MAX_HELD_TOKENS:  # no character is this long: give up waiting
            return self._emit(full[len(prefix) :])
        return ""

    def flush(self) -> str:
        """Return any held-back text; an unfinished character becomes U+FFFD."""
        if self._read == len(self._window):
            return ""
        prefix, full = self._decode()
        return self._emit(full[len(prefix) :])

    def _decode(self) -> tuple[str, str]:
        decode = self._tokenizer.decode
        prefix = decode(self._window[: self._read], skip_special_tokens=self._skip_special)
        full = decode(self._window, skip_special_tokens=self._skip_special)
        return prefix, full

    def _emit(self, delta: str) -> str:
        # What was read becomes the next prefix: enough context for the next decode.
        del self._window[: self._read]
        self._read = len(self._window)
        if delta:
            self._parts.append(delta)
        return delta
