"""Memory benchmark: embedding and ingestion throughput, search latency, HNSW recall, sizes.

    AGENT_WORKBENCH_HOME=/path/with/default-embedder python scripts/bench_memory.py \
        --real 100000 --sizes 10000,100000,1000000 --json-out bench-memory.json

Real text: sentences from the docstrings and comments of the Python files and the
README/METADATA files of this interpreter's stdlib and site-packages, embedded with
the prepared default embedder (cached in --cache). Levels above --real are filled with
mixtures of two real embeddings plus noise (re-normalised) and say so in the output.
Queries are held-out real sentences, never in the index.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from engine import paths
from engine.memory.embedder import Embedder
from engine.memory.index import VectorIndex
from engine.memory.settings import MemorySettings

_SENT = re.compile(r"(?<=[.!?])\s+")


def corpus_sentences(limit: int) -> list[str]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    seen: set[str] = set()
    out: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".py", ".md", ".rst", ".txt") and path.name != "METADATA":
                continue
            try:
                text = path.read_text(encoding="utf-8", errors="ignore")
            except OSError:
                continue
            for line in _prose(text):
                for sent in _SENT.split(line):
                    sent = sent.strip()
                    letters = sum(c.isalpha() for c in sent)
                    if 40 <= len(sent) <= 300 and letters > 0.7 * len(sent) and sent not in seen:
                        seen.add(sent)
                        out.append(sent)
                        if len(out) >= limit:
                            return out
    return out


def _prose(text: str) -> list[str]:
    """Comment and docstring-ish lines joined into paragraphs."""
    paras, buf = [], []
    for raw in text.splitlines():
        line = raw.strip().lstrip("#").strip().strip('"').strip()
        if line and not any(ch in line for ch in "=(){}[]<>`$\\|"):
            buf.append(line)
        elif buf:
            paras.append(" ".join(buf))
            buf = []
    if buf:
        paras.append(" ".join(buf))
    return paras


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_embedding(embedder: Embedder, sentences: list[str], runs: int = 3) -> dict[str, object]:
    """Sentences/s at batch 32 over 2,048 corpus sentences; median of `runs`."""
    sample = sentences[:2048]
    tokens = sum(embedder.count_tokens(s) for s in sample) / len(sample)
    embedder.embed(sample[:64])
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        embedder.embed(sample)
        rates.append(len(sample) / (time.perf_counter() - t))
    return {
        "sentences": len(sample),
        "batch": embedder.batch_size,
        "mean_tokens": tokens,
        "sentences_per_s": float(np.median(rates)),
        "sentences_per_s_runs": rates,
    }


def real_embeddings(embedder: Embedder, n: int, cache: Path) -> tuple[np.ndarray, list[str]]:
    cache.mkdir(parents=True, exist_ok=True)
    vec_path, txt_path = cache / f"real-{n}.npy", cache / f"real-{n}.json"
    if vec_path.is_file() and txt_path.is_file():
        return np.load(vec_path), json.loads(txt_path.read_text())
    sentences = corpus_sentences(n)
    t = time.perf_counter()
    vectors = np.zeros((len(sentences), embedder.dimension), np.float32)
    step = 4096
    for start in range(0, len(sentences), step):
        vectors[start : start + step] = embedder.embed(sentences[start : start + step])
        done = min(len(sentences), start + step)
        rate = done / (time.perf_counter() - t)
        print(f"embedded {done}/{len(sentences)} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    np.save(vec_path, vectors)
    txt_path.write_text(json.dumps(sentences))
    return vectors, sentences


def fill(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n vectors: the real ones first, then mixtures of two real ones plus noise."""
    if n <= len(real):
        return real[:n]
    rng = np.random.default_rng(seed)
    extra = n - len(real)
    out = np.empty((n, real.shape[1]), np.float32)
    out[: len(real)] = real
    step = 100_000
    for start in range(0, extra, step):
        m = min(step, extra - start)
        a = real[rng.integers(0, len(real), m)]
        b = real[rng.integers(0, len(real), m)]
        w = rng.uniform(0.6, 0.9, (m, 1)).astype(np.float32)
        mix = w * a + (1 - w) * b + rng.normal(0, 0.02, a.shape).astype(np.float32)
        out[len(real) + start : len(real) + start + m] = mix / np.linalg.norm(
            mix, axis=1, keepdims=True
        )
    return out


def latency(index: VectorIndex, queries: np.ndarray, k: int = 10) -> tuple[list[float], np.ndarray]:
    times, found = [], []
    for q in queries[:20]:
        index.search(q[None, :], k)
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        times.append((time.perf_counter() - t) * 1000)
        found.append(ids[0])
    return times, np.stack(found)


def bench_search(
    vectors: np.ndarray,
    real_count: int,
    queries: np.ndarray,
    sizes: list[int],
    efs: list[int],
    hnsw_max: int | None = None,
) -> list[dict[str, object]]:
    rows = []
    for n in sizes:
        base = fill(vectors, n)
        ids = np.arange(1, n + 1, dtype=np.int64)
        flat = VectorIndex(base.shape[1], MemorySettings(), "flat")
        flat.add(ids, base)
        times, truth = latency(flat, queries)
        row: dict[str, object] = {
            "n": n,
            "real": min(n, real_count),
            "flat_p50_ms": pct(times, 50),
            "flat_p95_ms": pct(times, 95),
        }
        print(json.dumps(row), file=sys.stderr, flush=True)
        del flat
        if hnsw_max is not None and n > hnsw_max:
            rows.append(row)
            continue
        settings = MemorySettings()
        hnsw = VectorIndex(base.shape[1], settings, "hnsw")
        t = time.perf_counter()
        for start in range(0, n, 50_000):
            hnsw.add(ids[start : start + 50_000], base[start : start + 50_000])
        row["hnsw_build_s"] = time.perf_counter() - t
        row["hnsw"] = []
        for ef in efs:
            hnsw.settings = settings.replace(hnsw_ef_search=ef)
            times, got = latency(hnsw, queries)
            recall = np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth, strict=True)])
            row["hnsw"].append(  # type: ignore[union-attr]
                {
                    "ef_search": ef,
                    "p50_ms": pct(times, 50),
                    "p95_ms": pct(times, 95),
                    "recall_at_10": float(recall),
                }
            )
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
        del hnsw, base
    return rows


def bench_ingest(embedder: Embedder) -> dict[str, object]:
    from engine.memory.ingest import ingest
    from engine.memory.store import MemoryStore

    src = Path(sysconfig.get_paths()["stdlib"])
    files = [
        src / name
        for name in (
            "argparse.py",
            "asyncio/tasks.py",
            "json/__init__.py",
            "pathlib/__init__.py",
            "shutil.py",
            "typing.py",
        )
    ]
    files = [f for f in files if f.is_file()]
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore.open(path=Path(tmp) / "store", embedder=embedder)
        result = ingest(store, files)
        store.close()
    data = result.to_dict()
    data["embed_fraction"] = (
        round(result.embed_seconds / result.seconds, 3) if result.seconds else 0
    )
    data["files_list"] = [f.name for f in files]
    return data


def bench_store_size(
    embedder: Embedder, vectors: np.ndarray, sentences: list[str], n: int
) -> dict[str, object]:
    from engine.memory.store import MemoryStore

    with tempfile.TemporaryDirectory() as tmp:
        before = rss_mb()
        store = MemoryStore.open(path=Path(tmp) / "store", embedder=embedder)
        base = fill(vectors, n)
        texts = [sentences[i % len(sentences)] for i in range(n)]
        t = time.perf_counter()
        for start in range(0, n, 5000):
            store.add(texts[start : start + 5000], kind="long", vectors=base[start : start + 5000])
        add_s = time.perf_counter() - t
        store.save_index()
        stats = store.stats()
        store.close()
        t = time.perf_counter()
        reopened = MemoryStore.open(path=Path(tmp) / "store", embedder=embedder)
        open_s = time.perf_counter() - t
        reopened.close()
        alone = _rss_of_open_store(Path(tmp) / "store")
        return {
            "items": n,
            "index_kind": stats["index"]["kind"],
            "bytes": stats["bytes"],
            "add_s": add_s,
            "open_verify_s": open_s,
            "peak_rss_mb_before": before,
            "peak_rss_mb_after": rss_mb(),
            "fresh_process": alone,
        }


_PROBE = """
import json, sys, time, psutil
from pathlib import Path
p = psutil.Process()
from engine.memory.store import MemoryStore
from engine.memory.embedder import Embedder
from engine import paths
emb = Embedder(paths.models_dir() / sys.argv[2], provider="cpu")
base = p.memory_info().rss
t = time.perf_counter()
store = MemoryStore.open(path=Path(sys.argv[1]), embedder=emb)
opened = time.perf_counter() - t
t = time.perf_counter()
hits = store.search("how do I parse command line arguments", k=10)
first = time.perf_counter() - t
print(json.dumps({"rss_mb_before_open": base / 2**20, "rss_mb_after_open":
    p.memory_info().rss / 2**20, "open_s": opened, "first_search_ms": first * 1000,
    "hits": len(hits)}))
"""


def _rss_of_open_store(path: Path, embedder: str = "default-embedder") -> dict[str, object]:
    import subprocess

    cmd = [sys.executable, "-c", _PROBE, str(path), embedder]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default="default-embedder")
    parser.add_argument("--real", type=int, default=100_000)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--ef", default="32,64,96,128")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--store-items", type=int, default=100_000)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "aw-bench-memory"))
    parser.add_argument("--hnsw-max", type=int, help="flat only above this many items")
    parser.add_argument("--skip-store", action="store_true", help="search levels only")
    parser.add_argument("--embed-runs", type=int, default=3)
    parser.add_argument("--only-embedding", action="store_true")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    import faiss

    embedder = Embedder(paths.models_dir() / args.embedder, provider="cpu")
    out: dict[str, object] = {
        "load_average_at_start": os.getloadavg(),
        "threads": os.cpu_count(),
        "faiss": faiss.__version__,
        "faiss_gpus": faiss.get_num_gpus(),
        "settings": MemorySettings().__dict__,
    }
    vectors, sentences = real_embeddings(embedder, args.real + args.queries, Path(args.cache))
    queries, vectors = vectors[-args.queries :], vectors[: -args.queries]
    sentences = sentences[: -args.queries]
    out["real_sentences"] = len(vectors)
    if args.only_embedding:
        out["embedding"] = bench_embedding(embedder, sentences, args.embed_runs)
        out["load_average_at_end"] = os.getloadavg()
        print(json.dumps(out, indent=2, default=float))
        return 0
    if not args.skip_store:
        out["embedding"] = bench_embedding(embedder, sentences, args.embed_runs)
        print(json.dumps(out["embedding"]), file=sys.stderr, flush=True)
        out["ingest"] = bench_ingest(embedder)
        print(json.dumps(out["ingest"]), file=sys.stderr, flush=True)
        out["store"] = bench_store_size(embedder, vectors, sentences, args.store_items)
        print(json.dumps(out["store"]), file=sys.stderr, flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    efs = [int(e) for e in args.ef.split(",")]
    out["search"] = bench_search(vectors, len(vectors), queries, sizes, efs, args.hnsw_max)
    out["load_average_at_end"] = os.getloadavg()
    text = json.dumps(out, indent=2, default=float)
    if args.json_out:
        Path(args.json_out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
