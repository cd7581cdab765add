"""ONNX Runtime inference: provider choice, KV cache, sampling, constraints, streaming.

Needs only onnxruntime, tokenizers and numpy at run time.
"""
