"""Perplexity of a GGUF under llama.cpp on the validation text, next to ours.

    python scripts/perplexity_llamacpp.py --model default [--threads 2]

Uses the prepared model's own token ids (the same tokenizer as the GGUF) so both engines
score exactly the same 320 tokens of engine/resources/validation/reference.txt. Needs the
`peers` extra (llama-cpp-python).
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    from llama_cpp import Llama

    from engine.llm.session import LLMSession
    from engine.manifest import model_folder as resolve_model
    from engine.models.validate import perplexity, reference_text

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    session = LLMSession(resolve_model(args.model), provider="cpu", threads=args.threads)
    ids = session.encode(reference_text())[:320]
    ours = perplexity(session.logits_for(ids), ids)
    llm = Llama(
        model_path=session.manifest.source["path"],
        n_ctx=512,
        n_batch=512,
        n_threads=args.threads,
        logits_all=True,
        verbose=False,
    )
    llm.eval(ids)
    theirs = perplexity(np.asarray(llm.scores[: len(ids)], dtype=np.float32), ids)
    print(
        json.dumps(
            {
                "tokens": len(ids) - 1,
                "ours": ours,
                "llamacpp_gguf": theirs,
                "fp32_export": session.manifest.validation.get("perplexity_fp32"),
            }
        )
    )


if __name__ == "__main__":
    main()
