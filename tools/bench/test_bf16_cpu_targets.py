"""bf16_cpu_targets.py on hand-made bench files: which targets it finds met and missed, and what it refuses."""

import contextlib
import io
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bf16_cpu_targets  # noqa: E402


def row(shape, batch, layout, precision, odconv_ms, floor_ms):
    return {"shape": shape, "batch": batch, "layout": layout, "device": "cpu", "precision": precision,
            "odconv_ms": odconv_ms, "floor_ms": floor_ms}


def report(bf16_b1_ms, bf16_b8_ms, bf16_floor_ms=1.0):
    """S1 and S2 in NCHW at batches 1 and 8: float32 floor 2.0 ms, float32 odconv 2.1 ms, bfloat16 as given."""
    rows = []
    for shape in ("S1", "S2"):
        for batch, bf16_ms in ((1, bf16_b1_ms), (8, bf16_b8_ms)):
            rows.append(row(shape, batch, "nchw", "f32", 2.1, 2.0))
            rows.append(row(shape, batch, "nchw", "bf16", bf16_ms, bf16_floor_ms))
    return {"machine": {"cpu": "test", "isa": "avx512_core_amx", "threads": 2}, "results": rows}


def evaluate(data, pytorch=None):
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        failures = bf16_cpu_targets.evaluate(data, pytorch)
    return failures, printed.getvalue()


class Bf16CpuTargetsTest(unittest.TestCase):
    def test_all_met(self):
        # batch 1: 1.08 / 2.0 = 0.54 of the float32 floor, 1.08 of the bfloat16 floor; batch 8: 1.14
        failures, printed = evaluate(report(1.08, 1.14))
        self.assertEqual([], failures, printed)
        self.assertIn("bfloat16 odconv / float32 floor, batch 1: geometric mean 0.540", printed)
        self.assertIn("bfloat16 odconv / bfloat16 floor, batch 8: geometric mean 1.140", printed)

    def test_each_target_missed_alone(self):
        # batch 1: 1.3 / 2.0 = 0.65 of the float32 floor (missed), 1.3 / 1.25 = 1.04 of the bfloat16 floor; batch 8:
        # 1.15 / 1.25 = 0.92
        failures, _ = evaluate(report(1.3, 1.15, bf16_floor_ms=1.25))
        self.assertEqual(["bfloat16 odconv / float32 floor, batch 1: 0.650 > 0.60"], failures)
        # batch 1: 1.15 / 1.0 of the bfloat16 floor (missed), 0.575 of the float32 floor
        failures, _ = evaluate(report(1.15, 1.15))
        self.assertEqual(["bfloat16 odconv / bfloat16 floor, batch 1: 1.150 > 1.10"], failures)
        failures, _ = evaluate(report(1.1, 1.2))
        self.assertEqual(["bfloat16 odconv / bfloat16 floor, batch 8: 1.200 > 1.15"], failures)

    def test_geometric_mean_not_worst_case(self):
        data = report(1.08, 1.14)
        # S1 b1 bfloat16 at 1.2x its floor and S2 b1 at 0.9x: geometric mean sqrt(1.08) = 1.039, met; the worst is
        # printed
        for r in data["results"]:
            if r["precision"] == "bf16" and r["batch"] == 1:
                r["odconv_ms"] = 1.2 if r["shape"] == "S1" else 0.9
        failures, printed = evaluate(data)
        self.assertEqual([], failures, printed)
        self.assertIn("batch 1: geometric mean 1.039 (worst 1.200)", printed)

    def test_a_cpu_without_bfloat16_fails_with_its_isa(self):
        data = report(1.08, 1.14)
        data["results"] = [r for r in data["results"] if r["precision"] == "f32"]
        data["machine"]["isa"] = "avx2"
        failures, _ = evaluate(data)
        self.assertEqual(["no bfloat16 rows: the CPU (avx2) did not compute in bfloat16"], failures)

    def test_a_bfloat16_case_without_its_float32_twin_fails(self):
        data = report(1.08, 1.14)
        data["results"] = [r for r in data["results"] if not (r["precision"] == "f32" and r["shape"] == "S2")]
        failures, _ = evaluate(data)
        self.assertIn("S2 1 nchw: no float32 row beside the bfloat16 one", failures)

    def test_missing_batch_fails(self):
        data = report(1.08, 1.14)
        data["results"] = [r for r in data["results"] if r["batch"] == 1]
        failures, _ = evaluate(data)
        self.assertEqual(["bfloat16 odconv / bfloat16 floor, batch 8: no cases"], failures)

    def test_pytorch_beside_each_case_without_a_target(self):
        # PyTorch's bfloat16: S1 b1 2.16 ms against odconv's 1.08 (2x), S2 b1 5.4 (5x), none at batch 8
        pytorch = {"results": [{"shape": "S1", "batch": 1, "layout": "nchw", "precision": "bf16", "odconv_ms": 2.16},
                               {"shape": "S2", "batch": 1, "layout": "nchw", "precision": "bf16", "odconv_ms": 5.4}]}
        failures, printed = evaluate(report(1.08, 1.14), pytorch)
        self.assertEqual([], failures, printed)
        self.assertRegex(printed, r"S1 b1 nchw .* 2\.160 +2\.00\n")
        self.assertRegex(printed, r"S1 b8 nchw .* 1\.140\n")
        self.assertIn("bfloat16 autocast / odconv in bfloat16, batch 1: geometric mean 3.16 over 2 cases", printed)
        # a PyTorch far slower or faster changes no verdict
        pytorch["results"][0]["odconv_ms"] = 0.01
        self.assertEqual([], evaluate(report(1.08, 1.14), pytorch)[0])


if __name__ == "__main__":
    unittest.main()
