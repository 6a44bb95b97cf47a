"""Network definitions, training and export (needs the ``train`` extra: torch and onnx)."""
