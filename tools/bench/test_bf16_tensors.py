"""bf16_tensors.py's reading of oneDNN's verbose log: which executions count as conversion, moves and convolution."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bf16_tensors  # noqa: E402

# Lines as oneDNN 3.13 prints them under ONEDNN_VERBOSE=profile_exec (the float32 ones from a run of
# `odconv bench --shapes S1 --batch 1 --layout nchw`; the bfloat16 ones in the same format, as on a CPU with
# AVX512-BF16).
WEIGHT_REORDER = ("onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:abcd::f0 "
                  "dst:f32::blocked:Acdb32a::f0,,,64x64x3x3,6.4541")
INTO_NHWC = ("onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:abcd::f0 "
             "dst:f32::blocked:acdb::f0,attr-scratchpad:user,,1x64x56x56,{}")
CONVOLUTION = ("onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx2,forward_inference,"
               "src:f32:a:blocked:acdb::f0 wei:f32:a:blocked:Acdb32a::f0 bia:f32::blocked:a::f0 "
               "dst:f32:a:blocked:acdb::f0,attr-scratchpad:user attr-post-ops:eltwise_swish:1,"
               "alg:convolution_direct,mb1_ic64oc64_ih56oh56kh3sh1dh0ph1_iw56ow56kw3sw1dw0pw1,{}")
TO_BFLOAT16 = ("onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:acdb::f0 "
               "dst:bf16::blocked:acdb::f0,attr-scratchpad:user,,8x64x56x56,{}")
WEIGHT_TO_BFLOAT16 = ("onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:abcd::f0 "
                      "dst:bf16::blocked:AcdB16a2b::f0,,,64x64x3x3,{}")
TIMESTAMPED = ("onednn_verbose,1764493200123.456,v1,primitive,exec,cpu,reorder,jit:uni,undef,"
               "src:f32::blocked:acdb::f0 dst:bf16::blocked:acdb::f0,attr-scratchpad:user,,8x64x56x56,{}")


class Bf16TensorsTest(unittest.TestCase):
    def test_kinds(self):
        self.assertIsNone(bf16_tensors.classify(WEIGHT_REORDER, 1))
        self.assertEqual("moves", bf16_tensors.classify(INTO_NHWC.format(0.5), 1)[0])
        self.assertEqual(("convolution", 2.0), bf16_tensors.classify(CONVOLUTION.format(2.0), 1)[::2])
        self.assertEqual(("conversion", 0.25), bf16_tensors.classify(TO_BFLOAT16.format(0.25), 8)[::2])
        self.assertEqual(("conversion", 0.25), bf16_tensors.classify(TIMESTAMPED.format(0.25), 8)[::2])
        # a weight's conversion is not an activation's, and another batch's activation is not this case's
        self.assertIsNone(bf16_tensors.classify(WEIGHT_TO_BFLOAT16.format(1.0), 8))
        self.assertIsNone(bf16_tensors.classify(TO_BFLOAT16.format(0.25), 1))
        for other in ("onednn_verbose,v1,info,oneDNN v3.13.0", "onednn_verbose,v1,primitive,create:cache_miss,cpu,"
                      "reorder,jit:uni,undef,src:f32::blocked:acdb::f0 dst:bf16::blocked:acdb::f0,,,8x64x56x56,0.1",
                      "[1/1] S1 b8 nhwc ...", ""):
            self.assertIsNone(bf16_tensors.classify(other, 8), other)

    def test_each_primitive_counts_its_median_once_per_execution(self):
        # the first conversion (code generation, cold caches) at 9 ms and four at 0.2-0.3: median 0.3, five runs
        log = [TO_BFLOAT16.format(t) for t in (9.0, 0.3, 0.2, 0.3, 0.3)]
        log += [CONVOLUTION.replace("mb1_", "mb8_").format(t) for t in (20.0, 2.7, 2.7)]
        log += [WEIGHT_TO_BFLOAT16.format(4.0), "odconv 1.0.0, oneDNN 3.13.0"]
        totals = bf16_tensors.summarize(log, 8)
        self.assertAlmostEqual(1.5, totals["conversion"])
        self.assertAlmostEqual(8.1, totals["convolution"])
        self.assertEqual(0.0, totals["moves"])
        self.assertAlmostEqual(1.5 / 9.6, bf16_tensors.share(totals))


if __name__ == "__main__":
    unittest.main()
