"""Decode speed of a fused vs an unfused graph of one family, at a realistic width.

    PYTHONPATH=. python scripts/bench_fusion.py [--shape qwen2.5-0.5b] [--recipe int8-lm4-rerank]
        [--rounds 8] [--prompt-tokens 64] [--new-tokens 48] [--home DIR]

Builds a random-weight model of the real shape (its config, not its weights: nothing comes
from a model hub) with the tests' small tokenizer, prepares it twice (fused, and with
--no-fuse) into a scratch data home (reused by the next run), then generates with both in
one process, alternating each round, so the two are measured side by side under the same
load. Prints JSON: per graph its node count and decode / prefill tok/s (medians and every
round), the median per-round fused/unfused decode ratio, and the CPU. A benchmark, not a
test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Real shapes, as their config.json gives them (random weights).
SHAPES = {
    "qwen2.5-0.5b": (
        "Qwen2Config",
        "Qwen2ForCausalLM",
        {
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "max_position_embeddings": 32768,
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-6,
            "tie_word_embeddings": True,
            "vocab_size": 151936,
        },
    ),
}


def build(shape: str, folder: Path) -> Path:
    import torch
    import transformers

    from tests.helpers.tiny_model import build_tokenizer_json

    if (folder / "model.safetensors").is_file():
        return folder
    config_name, model_name, fields = SHAPES[shape]
    config = getattr(transformers, config_name)(
        bos_token_id=2, eos_token_id=1, pad_token_id=0, **fields
    )
    config.architectures = [model_name]
    torch.manual_seed(0)
    model = getattr(transformers, model_name)(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "tokenizer.json").write_text(build_tokenizer_json(), encoding="utf-8")
    return folder


def interleaved(folders: dict[str, Path], rounds: int, prompt: int, new: int) -> dict[str, Any]:
    """Both sessions in one process, one generation each per round, alternating (A B, B A,
    ...): a machine whose load drifts over the run slows both alike."""
    import numpy as np

    from engine.llm.session import LLMSession

    sessions = {label: LLMSession(folder, provider="cpu") for label, folder in folders.items()}
    ids = [2, *(int(t) for t in np.random.default_rng(0).integers(3, 500, prompt - 1))]
    decode: dict[str, list[float]] = {label: [] for label in folders}
    prefill: dict[str, list[float]] = {label: [] for label in folders}
    order = list(folders)
    for label in order:  # warm-up
        sessions[label].complete(ids, max_new_tokens=8, ignore_eos=True, reuse_cache=False)
    for round_ in range(rounds):
        for label in order if round_ % 2 == 0 else order[::-1]:
            stats = (
                sessions[label]
                .complete(ids, max_new_tokens=new, ignore_eos=True, reuse_cache=False)
                .stats
            )
            decode[label].append(stats.decode_tok_s)
            prefill[label].append(stats.prefill_tok_s)
            print(
                f"round {round_ + 1} {label}: decode {stats.decode_tok_s:.2f} tok/s, "
                f"prefill {stats.prefill_tok_s:.1f} tok/s",
                file=sys.stderr,
            )
    result: dict[str, Any] = {}
    for label, folder in folders.items():
        import onnx

        nodes = len(onnx.load(str(folder / "model.onnx"), load_external_data=False).graph.node)
        result[label] = {
            "graph_nodes": nodes,
            "decode_tok_s_median": float(np.median(decode[label])),
            "decode_tok_s": decode[label],
            "prefill_tok_s_median": float(np.median(prefill[label])),
        }
    ratios = [f / u for f, u in zip(decode["fused"], decode["unfused"], strict=True)]
    result["decode_ratio_median"] = float(np.median(ratios))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="qwen2.5-0.5b", choices=sorted(SHAPES))
    parser.add_argument("--recipe", default="int8-lm4-rerank")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--home", default=str(Path.home() / ".cache" / "agent-workbench-bench"))
    args = parser.parse_args()
    home = Path(args.home)
    source = build(args.shape, home / "sources" / args.shape)
    env = {**os.environ, "AGENT_WORKBENCH_HOME": str(home)}
    folders = {}
    for label in ("fused", "unfused"):
        recipe = "" if args.recipe == "int8-lm4-rerank" else f"-{args.recipe}"
        name = f"{args.shape}{recipe}-{label}"
        extra = ["--no-fuse"] if label == "unfused" else []
        subprocess.run(
            [sys.executable, "main.py", "model", "prepare", "--source", str(source), "--name",
             name, "--quant", args.recipe, "--min-agreement", "0", *extra],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        folders[label] = home / "models" / name
    result = interleaved(folders, args.rounds, args.prompt_tokens, args.new_tokens)
    result.update(shape=args.shape, recipe=args.recipe, cpu=_cpu(), threads="default")
    print(json.dumps(result, indent=2))


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
    return "unknown"


if __name__ == "__main__":
    main()
