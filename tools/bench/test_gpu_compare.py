"""gpu_compare.py's bfloat16 table on hand-made files: the target it judges and the PyTorch anchors beside it."""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import gpu_compare  # imports PyTorch, for its accuracy half
except ImportError as e:
    gpu_compare = None
    MISSING = str(e)


def bench_row(shape, batch, precision, odconv_ms, floor_ms):
    return {"shape": shape, "batch": batch, "layout": "nchw", "device": "cuda:0", "precision": precision,
            "odconv_ms": odconv_ms, "floor_ms": floor_ms}


@unittest.skipIf(gpu_compare is None, "no PyTorch")
class BFloat16TableTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, rows):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            json.dump({"machine": {}, "results": rows}, f)
        return path

    def table(self, *paths):
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            misses = gpu_compare.print_bfloat16_table(*paths)
        return misses, [line for line in printed.getvalue().splitlines() if line.startswith("| S")]

    def test_target_at_batch_8_and_anchors(self):
        # S1: float32 0.3 ms, bfloat16 0.15 at batch 8 (2x, met) and 0.1 at batch 1 (no target);
        # S2 at batch 8: 0.3 against 0.25 (1.2x, missed)
        odconv = self.write("odconv.json", [
            bench_row("S1", 1, "f32", 0.12, 0.1), bench_row("S1", 1, "bf16", 0.1, 0.08),
            bench_row("S1", 8, "f32", 0.3, 0.25), bench_row("S1", 8, "bf16", 0.15, 0.12),
            bench_row("S2", 8, "f32", 0.3, 0.25), bench_row("S2", 8, "bf16", 0.25, 0.2)])
        eager = self.write("eager.json", [bench_row("S1", 8, "bf16", 0.8, 0)])  # pytorch_eager's rows, one case
        compiled = self.write("compiled.json", [bench_row("S1", 8, "bf16", 0.3, 0),
                                                bench_row("S2", 8, "bf16", 0.5, 0)])
        misses, rows = self.table(odconv, eager, compiled)
        self.assertEqual(1, misses)
        self.assertEqual(["| S1 b1 | 0.1200 | 0.1000 | 1.20 | 0.0800 | 1.250 | nan | nan | nan | nan | - |",
                          "| S1 b8 | 0.3000 | 0.1500 | 2.00 | 0.1200 | 1.250 | 0.8000 | 5.33 | 0.3000 | 2.00 | PASS |",
                          "| S2 b8 | 0.3000 | 0.2500 | 1.20 | 0.2000 | 1.250 | nan | nan | 0.5000 | 2.00 "
                          "| MISS: < 1.5x float32 |"], rows)

    def test_without_anchors(self):
        odconv = self.write("odconv.json", [bench_row("S1", 8, "f32", 0.3, 0.25),
                                            bench_row("S1", 8, "bf16", 0.15, 0.12)])
        misses, rows = self.table(odconv)
        self.assertEqual(0, misses)
        self.assertEqual(["| S1 b8 | 0.3000 | 0.1500 | 2.00 | 0.1200 | 1.250 | PASS |"], rows)


if __name__ == "__main__":
    unittest.main()
