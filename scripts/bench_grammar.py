"""What the step grammar costs per token, with and without argument grammars.

    python scripts/bench_grammar.py [--model default] [--repeat 5] [--json]

A benchmark, not a test (the machine is shared and noisy): for each shipped tool with an
argument grammar, a typical step is fed token by token through the real llguidance
matcher on the model's own tokenizer, timing the mask (`apply`) and `advance` per token,
and the same step under the plain schema grammar (the argument grammar off). The
target (issue 13) is under 1 ms per token more than without. Prints the CPU model.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.agent.grammar import step_grammar
from engine.llm.constraints import ConstraintTokenizer, GrammarConstraint
from engine.manifest import model_folder
from engine.tools.catalog import build_builtin

STEPS = {
    "calculator": ' Thought: I compute it.\nAction: calculator\nAction Input: {"expression": '
    '"(125 + 375) / 4 * sqrt(16) - 2 ** 10"}\n',
    "files.search": " Thought: I search the notes.\nAction: files.search\nAction Input: "
    '{"text": "wifi"}\n',
    "files.read": ' Thought: I read the file.\nAction: files.read\nAction Input: {"path": '
    '"settings.ini"}\n',
}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _time(tokenizer: ConstraintTokenizer, grammar: object, ids: list[int]) -> tuple[float, float]:
    """(compile ms, per-token ms) for feeding `ids` under `grammar`."""
    started = time.perf_counter()
    constraint = GrammarConstraint(tokenizer, grammar)  # type: ignore[arg-type]
    logits = np.zeros(tokenizer.vocab_size, dtype=np.float32)
    constraint.apply(logits)  # the first mask compiles the lexer's first states
    compiled = time.perf_counter() - started
    constraint.advance(ids[0])
    started = time.perf_counter()
    for token in ids[1:]:
        logits[:] = 0.0
        constraint.apply(logits)
        constraint.advance(token)
    per_token = (time.perf_counter() - started) / max(1, len(ids) - 1)
    return compiled * 1000, per_token * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = model_folder(args.model)
    config = json.loads((folder / "generation_config.json").read_text())
    eos = config.get("eos_token_id", 1)
    tokenizer = ConstraintTokenizer.from_file(folder / "tokenizer.json", eos)
    from tokenizers import Tokenizer

    text_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    rows = []
    with tempfile.TemporaryDirectory() as workspace:
        (Path(workspace) / "settings.ini").write_text("[web]\nport = 8080\n")
        for name, step in STEPS.items():
            tool = build_builtin({"name": name}, Path(workspace), name)
            written = tool.written
            ids = text_tokenizer.encode(step, add_special_tokens=False).ids
            timings: dict[str, list[tuple[float, float]]] = {"plain": [], "written": []}
            for _ in range(args.repeat):
                for kind in ("written", "plain"):
                    tool.written = None if kind == "plain" else written
                    grammar = step_grammar([tool], max_tokens=200)
                    timings[kind].append(_time(tokenizer, grammar, ids))
            row = {"tool": name, "tokens": len(ids)}
            for kind, found in timings.items():
                row[f"{kind}_compile_ms"] = round(statistics.median(t[0] for t in found), 2)
                row[f"{kind}_per_token_ms"] = round(statistics.median(t[1] for t in found), 3)
            row["overhead_per_token_ms"] = round(
                row["written_per_token_ms"] - row["plain_per_token_ms"], 3
            )
            rows.append(row)
    result = {"cpu": _cpu(), "model": args.model, "repeat": args.repeat, "tools": rows}
    if args.json:
        print(json.dumps(result))
        return
    print(f"CPU: {result['cpu']}  model: {args.model}  (median of {args.repeat})")
    for row in rows:
        print(
            f"{row['tool']:>11}: {row['tokens']:3d} tokens  per token "
            f"{row['plain_per_token_ms']:.3f} ms plain, {row['written_per_token_ms']:.3f} ms "
            f"with argument grammar (+{row['overhead_per_token_ms']:.3f});  compile "
            f"{row['plain_compile_ms']:.1f} / {row['written_compile_ms']:.1f} ms"
        )


if __name__ == "__main__":
    main()
