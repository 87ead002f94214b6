"""What odconv's Python tools share: the PyTorch reference modules, the YOLO-style test network, random
weights for them, and a safetensors reader.

The golden script, the ONNX fixture script, the exporter's tests and the benchmarks import it after putting
``tools/`` on ``sys.path``::

    sys.path.insert(0, TOOLS)   # the folder that holds odconv_reference/
    from odconv_reference.modules import ODConv2d, OsvaiODConv2d, randomize

The safetensors *writer* is not here: it is the exporter's (``tools/export/odconv_export.py``,
``write_safetensors``), which users may copy alone and which therefore imports nothing of this package.
"""
