"""The run-time sentence embedder: onnxruntime + tokenizers, batched, mean pooling + L2 norm.

Same provider choice as the LLM (`engine.llm.providers.create_session`), read back from
the session. Texts are sorted by length before batching so a batch pads to similar
lengths; the vectors come back in the caller's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from engine.errors import ModelError
from engine.llm.providers import ProviderReport, create_session
from engine.manifest import Manifest, check_folder
from engine.progress import CancelToken

DEFAULT_BATCH = 32


class Embedder:
    """Turns texts into unit-length float32 vectors with a prepared embedder folder."""

    def __init__(
        self,
        folder: Path,
        provider: str = "auto",
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.folder = Path(folder)
        self.manifest: Manifest = check_folder(self.folder)
        if self.manifest.kind != "embedder":
            raise ModelError(
                f"{self.folder.name!r} is a {self.manifest.kind} model, not an embedder; "
                "prepare one with: python main.py model prepare --kind embedder"
            )
        info = self.manifest.embedding
        self.dimension = int(info["dimension"])
        self.max_length = int(info.get("max_length", 256))
        self.pooling = str(info.get("pooling", "mean"))
        self.batch_size = max(1, batch_size)
        self.session, self.provider = create_session(self.folder / "model.onnx", provider, threads)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        pad_id = int(info.get("pad_id", 0))
        pad_token = self.tokenizer.id_to_token(pad_id) or "[PAD]"
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        self._plain: Tokenizer | None = None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def report(self) -> ProviderReport:
        return self.provider

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` without truncation (special tokens included)."""
        return len(self._untruncated().encode(text).ids)

    def embed(self, texts: Sequence[str], cancel: CancelToken | None = None) -> np.ndarray:
        """[len(texts), dimension] float32, each row L2-normalised."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            if cancel is not None:
                cancel.check()
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        feeds = {k: v for k, v in feeds.items() if k in self._inputs}
        hidden = self.session.run(None, feeds)[0]  # [batch, seq, hidden]
        if self.pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of every token of `text` (no truncation, no special tokens)."""
        return list(self._untruncated().encode(text, add_special_tokens=False).offsets)

    def _untruncated(self) -> Tokenizer:
        """A copy of the tokenizer without truncation or padding (the batch one keeps both)."""
        if self._plain is None:
            plain = Tokenizer.from_str(self.tokenizer.to_str())
            plain.no_truncation()
            plain.no_padding()
            self._plain = plain
        return self._plain
