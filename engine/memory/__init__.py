"""ONNX embedder, SQLite + FAISS store, retrieval (see the memory issue)."""
