"""Decode speed of a fused vs an unfused graph of one family, at a realistic width.

    PYTHONPATH=. python scripts/bench_fusion.py [--shape qwen2.5-0.5b] [--recipe int8-lm4-rerank]
                                               [--runs 3] [--new-tokens 64] [--home DIR]

Builds a random-weight model of the real shape (its config, not its weights: nothing comes
from a model hub) with the tests' small tokenizer, prepares it twice (fused, and with
--no-fuse) into a scratch data home, and runs `bench matrix` over both in one run, so the
two are measured side by side on the same machine at the same time. Prints the matrix's
JSON rows (decode and prefill tok/s, node counts). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="qwen2.5-0.5b", choices=sorted(SHAPES))
    parser.add_argument("--recipe", default="int8-lm4-rerank")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--home", default=str(Path.home() / ".cache" / "agent-workbench-bench"))
    args = parser.parse_args()
    home = Path(args.home)
    source = build(args.shape, home / "sources" / args.shape)
    env = {**os.environ, "AGENT_WORKBENCH_HOME": str(home)}

    def main_py(*argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "main.py", *argv], env=env, check=True, stdout=subprocess.PIPE
        )
        return done.stdout.decode()

    names = {"fused": f"{args.shape}-fused", "unfused": f"{args.shape}-unfused"}
    for label, name in names.items():
        extra = ["--no-fuse"] if label == "unfused" else []
        main_py("model", "prepare", "--source", str(source), "--name", name, "--quant",
                args.recipe, "--min-agreement", "0", *extra)  # fmt: skip
    matrix = main_py(
        "bench", "matrix", "--model", *names.values(), "--only-named", "--provider", "cpu",
        "--runs", str(args.runs), "--new-tokens", str(args.new_tokens), "--json",
    )  # fmt: skip
    print(json.dumps(json.loads(matrix), indent=2))


if __name__ == "__main__":
    main()
