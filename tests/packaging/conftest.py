from tests.engine.conftest import tiny_hf, tiny_home, tiny_int4

__all__ = ["tiny_hf", "tiny_home", "tiny_int4"]
