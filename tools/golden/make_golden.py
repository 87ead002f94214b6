#!/usr/bin/python3
"""Generate the ODConv golden test data (and the demo model) with PyTorch.

Run from the repository root with the interpreter that has PyTorch 1.13 (CPU):

    /usr/bin/python3 tools/golden/make_golden.py

For every case in CASES it writes src/test/resources/golden/<case>/{model,input,expected}.safetensors,
and it writes the demo set to src/main/resources/org/odconv/demo/.  The output is deterministic: each
case seeds torch from BASE_SEED and the case name.  The layers are the reference modules of
tools/odconv_reference/modules.py (the project's seed, with YOLOv5's ``autopad`` and ``Conv``); the files are
written by the exporter (tools/export/odconv_export.py), with the case's own reduction/min_channel.
"""

import copy
import os
import sys
import zlib
from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn as nn

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOOLS, os.path.join(TOOLS, "export")]

from odconv_export import find_odconv_layers, write_model, write_safetensors  # noqa: E402
from odconv_reference.modules import Attention, ODConv2d, ODConv2dWithoutBn, randomize  # noqa: E402


# --------------------------------------------------------------------------------------------------
# Case table
# --------------------------------------------------------------------------------------------------

ACTS = {"silu": lambda: True, "relu": lambda: nn.ReLU(), "identity": lambda: False}


BASE_SEED = 20220907  # any fixed number; each case derives its own seed from it and its name

GOLDEN_DIR = os.path.join("src", "test", "resources", "golden")
DEMO_DIR = os.path.join("src", "main", "resources", "org", "odconv", "demo")


@dataclass
class Layer:
    c1: int
    c2: int
    k: int = 3
    s: int = 1
    p: Optional[int] = None
    g: int = 1
    d: int = 1
    act: str = "silu"            # key of ACTS
    reduction: float = 0.0625
    kernel_num: int = 1
    min_channel: int = 16
    temperature: float = 1.0
    bn_eps: float = 1e-5         # trailing bn
    attention_bn_eps: float = 1e-5
    osvai: bool = False          # official variant: no trailing bn / act


@dataclass
class Case:
    name: str
    layers: List[Layer]
    n: int = 2
    h: int = 8
    w: int = 8
    input_scale: float = 1.0
    out_dir: str = GOLDEN_DIR


def single(name, n=2, h=8, w=8, input_scale=1.0, **layer):
    return Case(name, [Layer(**layer)], n=n, h=h, w=w, input_scale=input_scale)


CASES = [
    single("basic_k3", c1=16, c2=32, k=3, n=1, h=9, w=9),
    single("pw1x_k1_kn1", c1=24, c2=16, k=1, h=7, w=5),
    single("k1_kn3", c1=16, c2=24, k=1, kernel_num=3, h=6, w=6),
    single("kn2", c1=16, c2=16, kernel_num=2),
    single("kn3", c1=16, c2=16, kernel_num=3),
    single("kn4", c1=16, c2=16, kernel_num=4),
    single("stride2_odd", c1=16, c2=16, s=2, n=1, h=11, w=13),
    single("padding0", c1=16, c2=16, p=0, h=9, w=9),
    single("dilation2", c1=16, c2=16, d=2, h=12, w=12),
    single("k5", c1=16, c2=16, k=5, kernel_num=2, h=10, w=10),
    single("groups2", c1=16, c2=32, g=2, kernel_num=2),
    single("groups4_odd", c1=20, c2=28, g=4, h=7, w=9),
    single("depthwise", c1=32, c2=32, g=32, h=10, w=10),
    single("depthwise_kn2_s2", c1=24, c2=24, g=24, s=2, kernel_num=2, h=9, w=9),
    single("temperature", c1=16, c2=16, kernel_num=4, temperature=4.0),
    single("relu", c1=16, c2=16, act="relu"),
    single("identity", c1=16, c2=16, act="identity"),
    single("bn_eps", c1=16, c2=16, kernel_num=2, bn_eps=1e-3, attention_bn_eps=1e-3),
    single("reduction_wide", c1=64, c2=32, reduction=0.5, h=6, w=6),
    single("min_channel8", c1=16, c2=16, min_channel=8),
    single("batch4", c1=16, c2=16, kernel_num=2, n=4, h=7, w=7),
    single("one_by_one_input", c1=16, c2=16, h=1, w=1),
    single("nonsquare", c1=12, c2=20, n=1, h=5, w=17),
    single("large_values", c1=16, c2=16, input_scale=50.0),
    single("osvai_nobn", c1=16, c2=32, kernel_num=4, act="identity", osvai=True),
    Case("chain3", [Layer(16, 32, k=3, kernel_num=2),
                    Layer(32, 32, k=3, s=2, g=32),
                    Layer(32, 24, k=1, act="relu")], n=2, h=12, w=12),
    # Extra coverage beyond the brief:
    # pw1x path with groups, stride and odd spatial size
    single("pw1x_groups2_s2", c1=16, c2=24, k=1, g=2, s=2, h=9, w=7),
    # depthwise 1x1: every head but the channel one is skipped
    single("depthwise_k1", c1=16, c2=16, k=1, g=16, h=6, w=6),
    # in_planes == groups but out != in: grouped "depthwise multiplier", filter head present
    single("groups_multiplier", c1=16, c2=32, g=16, kernel_num=2, h=7, w=7),
    # dilation + stride + several kernels + temperature together, padding still k // 2
    single("dilation2_s2_kn3", c1=16, c2=24, d=2, s=2, kernel_num=3, temperature=2.5, h=13, w=11),
    # explicit padding larger than k // 2 with a 5x5 kernel
    single("k5_p3_kn3", c1=12, c2=16, k=5, p=3, kernel_num=3, n=1, h=6, w=8),
]

DEMO = Case("demo", [Layer(16, 32, k=3, kernel_num=4),
                     Layer(32, 32, k=3, s=2, kernel_num=2)], n=1, h=24, w=24, out_dir=DEMO_DIR)


# --------------------------------------------------------------------------------------------------
# Building and randomizing the model
# --------------------------------------------------------------------------------------------------

def case_seed(name):
    return (BASE_SEED * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2 ** 31)


def build_layer(spec: Layer) -> ODConv2d:
    cls = ODConv2dWithoutBn if spec.osvai else ODConv2d
    act = ACTS["identity" if spec.osvai else spec.act]()
    layer = cls(spec.c1, spec.c2, spec.k, s=spec.s, p=spec.p, g=spec.g, act=act, d=spec.d,
                reduction=spec.reduction, kernel_num=spec.kernel_num)
    if spec.min_channel != 16:  # ODConv2d does not pass min_channel on; rebuild its Attention
        layer.attention = Attention(spec.c1, spec.c2, spec.k, groups=spec.g, reduction=spec.reduction,
                                    kernel_num=spec.kernel_num, min_channel=spec.min_channel)
    layer.update_temperature(spec.temperature)
    layer.attention.fc.bn.eps = spec.attention_bn_eps
    if not spec.osvai:
        layer.bn.eps = spec.bn_eps
    return layer


def model_layers(model: nn.Sequential, specs: List[Layer]):
    """The exporter's layers of ``model``, named model.0, model.1, ... (as in a YOLOv5 model), each with the
    reduction/min_channel its case asked for: the seed module stores neither, and the exporter would write
    another pair that gives the same attention width."""
    layers = find_odconv_layers(nn.ModuleDict({"model": model}))
    for layer, spec, module in zip(layers, specs, model):
        assert module.attention.fc.conv.out_channels == max(int(spec.c1 * spec.reduction), spec.min_channel)
        layer.config.update(reduction=spec.reduction, min_channel=spec.min_channel)
    return layers


# --------------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------------

def max_abs_diff(a, b):
    return (a.double() - b.double()).abs().max().item()


def run_case(case: Case):
    torch.manual_seed(case_seed(case.name))
    layers = []
    for spec in case.layers:
        layer = build_layer(spec)
        randomize(layer)
        layers.append(layer)
    model = nn.Sequential(*layers).eval()
    x = torch.randn(case.n, case.layers[0].c1, case.h, case.w) * case.input_scale

    with torch.no_grad():
        expected = model(x)
        expected64 = copy.deepcopy(model).double()(x.double())
        # Cross-check: the common path must give the same numbers where the pw1x path is used.  With
        # k == 1 and kernel_num == 1 both spatial and kernel attention are the scalar 1.0, so the common
        # path's aggregated weight has no batch dimension and only works for batch 1: run it per sample.
        common = copy.deepcopy(model)
        pw1x_layers = [i for i, l in enumerate(common) if l._forward_impl.__func__ is ODConv2d._forward_impl_pw1x]
        for i in pw1x_layers:
            common[i]._forward_impl = common[i]._forward_impl_common
        expected_common = torch.cat([common(x[i:i + 1]) for i in range(case.n)])

    exported = model_layers(model, case.layers)
    tensor_count = sum(len(layer.tensors) for layer in exported)

    out_dir = os.path.join(case.out_dir, case.name) if case.out_dir == GOLDEN_DIR else case.out_dir
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, f"{name}.safetensors") for name in ("model", "input", "expected")]
    write_model(exported, paths[0])
    write_safetensors(paths[1], [("input", x)])
    write_safetensors(paths[2], [("output", expected)])
    size = sum(os.path.getsize(path) for path in paths)

    kinds = "/".join("pw1x" if i in pw1x_layers else "common" for i in range(len(layers)))
    print(f"{out_dir}: input {list(x.shape)} -> output {list(expected.shape)}, {tensor_count} tensors, "
          f"{size} bytes, path {kinds}, max|out| {expected.abs().max().item():.4g}, "
          f"f32-vs-f64 {max_abs_diff(expected, expected64):.3g}"
          + (f", pw1x-vs-common {max_abs_diff(expected, expected_common):.3g}" if pw1x_layers else ""))
    return size


def main():
    if not os.path.isdir(os.path.join("src", "main")):
        sys.exit("run from the repository root: /usr/bin/python3 tools/golden/make_golden.py")
    torch.set_num_threads(1)  # keep float summation order independent of the machine
    print(f"torch {torch.__version__}, base seed {BASE_SEED}")
    total = sum(run_case(case) for case in CASES)
    print(f"{len(CASES)} golden cases, {total} bytes")
    print(f"demo: {run_case(DEMO)} bytes")


if __name__ == "__main__":
    main()
