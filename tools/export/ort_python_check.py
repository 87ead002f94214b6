#!/usr/bin/python3
"""odconv's ONNX Runtime operator from ONNX Runtime's Python API, and export_onnx on the PyTorch installed.

The Java tests prove the operator on ONNX Runtime Java; this proves it on another runtime build and version
(the onnxruntime wheel) and the exporter on another PyTorch (2.x where it is installed), where both exist:

1. the committed fixtures (src/test/resources/onnx: yolo.onnx at batch 1 and 5, single.onnx at two sizes)
   against the PyTorch outputs stored beside them, and every bad_*.onnx refused at session creation with a
   message naming the node;
2. YoloODConvNet (tools/odconv_reference/yolo_net.py) exported here with export_onnx and run at batch 1 and 3 against
   this PyTorch's own outputs.

    python3 tools/export/ort_python_check.py --library DIR/libodconv_ort.so

DIR must also hold libodconv.so, libdnnl.so.3 and libgomp.so.1 (``cmake --install`` of native/ puts them
together). Needs onnxruntime, numpy and PyTorch. Exit status 1 when a check fails.
"""

import argparse
import glob
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(REPO, "tools")]

import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

from odconv_onnx import export_onnx  # noqa: E402
from odconv_reference.accuracy import error_and_tolerance  # noqa: E402
from odconv_reference.modules import randomize  # noqa: E402
from odconv_reference.safetensors_reader import read_tensor  # noqa: E402
from odconv_reference.yolo_net import YoloODConvNet  # noqa: E402

FIXTURES = os.path.join(REPO, "src", "test", "resources", "onnx")


def session(library, model, threads=2):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("odconv.num_threads", str(threads))
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.register_custom_ops_library(library)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def close(name, expected, actual):
    error, tolerance = error_and_tolerance(expected, actual)
    ok = expected.shape == actual.shape and error <= tolerance
    print(f"  {'ok  ' if ok else 'FAIL'} {name}: shape {list(actual.shape)}, max error {error:.3g} (tolerance {tolerance:.3g})")
    return ok


def check_fixtures(library):
    ok = True
    yolo = session(library, os.path.join(FIXTURES, "yolo.onnx"))
    for batch in ("b1", "b5"):
        x = read_tensor(os.path.join(FIXTURES, f"input_{batch}.safetensors"), "input")
        p8, p16 = yolo.run(["p8", "p16"], {"input": x})
        expected = os.path.join(FIXTURES, f"expected_{batch}.safetensors")
        ok &= close(f"yolo.onnx {batch} p8", read_tensor(expected, "p8"), p8)
        ok &= close(f"yolo.onnx {batch} p16", read_tensor(expected, "p16"), p16)
    single = session(library, os.path.join(FIXTURES, "single.onnx"))
    for name in ("single_a", "single_b"):
        x = read_tensor(os.path.join(FIXTURES, name + ".safetensors"), "input")
        (y,) = single.run(["output"], {"input": x})
        ok &= close(f"single.onnx {name}", read_tensor(os.path.join(FIXTURES, name + "_expected.safetensors"), "output"), y)
    for bad in sorted(glob.glob(os.path.join(FIXTURES, "bad_*.onnx"))):
        try:
            session(library, bad)
            print(f"  FAIL {os.path.basename(bad)}: the session was created")
            ok = False
        except Exception as e:  # ONNX Runtime's own exception types differ between versions
            named = "ODConv2d node '/ODConv2d'" in str(e)
            print(f"  {'ok  ' if named else 'FAIL'} {os.path.basename(bad)} refused: {' '.join(str(e).split())[-150:]}")
            ok &= named
    return ok


@torch.no_grad()
def check_export(library):
    ok = True
    net = YoloODConvNet(width=16)
    randomize(net, torch.Generator().manual_seed(7), scaled_by_fan_in=True)
    net.eval()
    x = torch.randn(3, 3, 96, 96, generator=torch.Generator().manual_seed(8))
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "yolo.onnx")
        names = export_onnx(net, x[:1], path, output_names=["p8", "p16"])
        print(f"  exported {len(names)} ODConv nodes with torch {torch.__version__}")
        exported = session(library, path)
        for batch in (1, 3):
            want = net(x[:batch])
            got = exported.run(["p8", "p16"], {"input": x[:batch].numpy()})
            for name, expected, actual in zip(("p8", "p16"), want, got):
                ok &= close(f"exported yolo b{batch} {name}", expected.numpy(), actual)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True, help="path to libodconv_ort.so")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    print("fixtures:")
    ok = check_fixtures(os.path.abspath(args.library))
    print("export here:")
    ok &= check_export(os.path.abspath(args.library))
    print("ort_python_check:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
