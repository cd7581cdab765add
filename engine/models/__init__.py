"""Model preparation: source -> optimum ONNX export -> quantize -> validate -> manifest."""
