"""Rows of a block-quantized token table, read on demand from the model's data file.

The lean graph (engine.models.graph.write_lean_graph) leaves the 8-bit token table out
of ONNX Runtime. This class reads only the rows a step needs with `os.pread`: the bytes
come through the page cache and are never mapped into the process, so they do not count
in its resident memory. Recent rows are kept in a small cache (tokens and candidates
repeat).
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.manifest import LeanGraph


class RowTable:
    def __init__(self, folder: Path, info: LeanGraph, cache_rows: int = 4096) -> None:
        data, scales = info.data, info.scales
        self.bits = info.bits
        if self.bits != 8:
            raise ValueError("RowTable reads 8-bit tables")
        self.block = info.block_size
        self.hidden = info.hidden
        self.vocab = data.shape[0]
        self._row_bytes = data.shape[1]
        self._blocks = scales.shape[1]
        self._data_offset = data.offset
        self._scale_offset = scales.offset
        self._fd_data = os.open(folder / data.file, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._fd_scales = (
            self._fd_data
            if scales.file == data.file
            else os.open(folder / scales.file, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        )
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_rows = cache_rows

    def _read(self, token: int) -> np.ndarray:
        raw = os.pread(self._fd_data, self._row_bytes, self._data_offset + token * self._row_bytes)
        scale_bytes = os.pread(
            self._fd_scales, 4 * self._blocks, self._scale_offset + token * 4 * self._blocks
        )
        q = np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0  # implied zero point
        scale = np.frombuffer(scale_bytes, dtype=np.float32)
        return (q.reshape(self._blocks, self.block) * scale[:, None]).reshape(-1)[: self.hidden]

    def row(self, token: int) -> np.ndarray:
        cached = self._cache.get(token)
        if cached is not None:
            self._cache.move_to_end(token)
            return cached
        value = self._read(token)
        self._cache[token] = value
        if len(self._cache) > self._cache_rows:
            self._cache.popitem(last=False)
        return value

    def rows(self, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        out = np.empty((len(tokens), self.hidden), dtype=np.float32)
        for i, token in enumerate(tokens):
            out[i] = self.row(int(token))
        return out

    def close(self) -> None:
        fds = {self._fd_data, self._fd_scales} - {-1}
        self._fd_data = self._fd_scales = -1
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __del__(self) -> None:
        self.close()
