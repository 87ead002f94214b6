"""Reading safetensors files with NumPy alone (F32, F16 and BF16 tensors, read as float32).

Apart from the exporter's writer (tools/export/odconv_export.py, ``write_safetensors``) on purpose: the
exporter's tests check the bytes that writer lays out with this reader.
"""

import json
import pathlib
import struct

import numpy as np

_NUMPY_TYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}


class SafeTensorsFile:
    """header (name -> entry, without __metadata__), metadata (dict), tensors (name -> float32 array)."""

    def __init__(self, path):
        data = pathlib.Path(path).read_bytes()
        (length,) = struct.unpack("<Q", data[:8])
        self.header_length = length
        self.header = json.loads(data[8:8 + length].decode("utf-8"))
        self.metadata = self.header.pop("__metadata__", {})
        body = data[8 + length:]
        self.body_length = len(body)
        self.tensors = {}
        for name, entry in self.header.items():
            begin, end = entry["data_offsets"]
            raw = np.frombuffer(body[begin:end], dtype=_NUMPY_TYPES[entry["dtype"]])
            if entry["dtype"] == "BF16":  # NumPy has no bfloat16: its bits are a float32's upper half
                raw = (raw.astype("<u4") << 16).view("<f4")
            self.tensors[name] = raw.astype(np.float32).reshape(entry["shape"])

    def odconv(self):
        """The odconv model metadata (``__metadata__["odconv"]``), parsed."""
        return json.loads(self.metadata["odconv"])


def read_tensor(path, name):
    """One tensor of a safetensors file, as a float32 array."""
    return SafeTensorsFile(path).tensors[name]
