#!/usr/bin/python3
"""How far bfloat16 ODConv is from PyTorch's float32 output: the measurements behind odconv's bfloat16 bound.

odconv's bfloat16 layers (ODCONV_FLAG_BFLOAT16, Precision.BF16) compute the attention in float32, round the
per-sample kernel (attentions and BatchNorm scale folded in) and the input to bfloat16 once each, accumulate the
products in float32, and apply the BatchNorm shift and the activation in float32. This script computes that
scheme in PyTorch (bfloat16 rounding, then float64 arithmetic: a float32 accumulation adds nothing measurable
next to bfloat16's 2^-9) and, beside it, PyTorch's own bfloat16 autocast (what a PyTorch user gets: every
convolution, the attention's included, in bfloat16 with bfloat16 outputs), on

- every golden case of tools/golden/make_golden.py (the layers, inputs and seeds of the Java tests' fixtures);
- 200 random layer configurations (fixed seed), in the spirit of the Java RandomConfigurationTest.

The error of an output is max |y - y_float64| / max(1, max |y_float64|), the measure the tests assert
(Comparison.assertClose, Precision.errorBound). Prints a table and, with --json FILE, writes the figures.
Run from the repository root with PyTorch 1.13 or newer:

    /usr/bin/python3 tools/bench/bf16_accuracy.py [--configurations 200] [--seed 20261130] [--json FILE]
"""

import argparse
import copy
import json
import os
import random
import statistics
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOOLS, os.path.join(TOOLS, "golden"), os.path.join(TOOLS, "export")]

import make_golden  # noqa: E402
from odconv_reference.modules import randomize  # noqa: E402


def to_bfloat16(t):
    """Round to the nearest bfloat16 (ties to even), kept in float64."""
    return t.to(torch.bfloat16).to(torch.float64)


def error(y, reference):
    return ((y.double() - reference).abs().max() / max(1.0, reference.abs().max().item())).item()


def per_sample(attention, batch, size):
    """An attention as [batch, size]; a skipped head (the float 1.0) as ones."""
    if not torch.is_tensor(attention):
        return torch.ones(batch, size, dtype=torch.float64)
    return attention.reshape(batch, size).double()


def odconv_bfloat16(layer, x):
    """One layer as odconv computes it in bfloat16 (see the module docstring); layer and x in float64."""
    channel, filt, spatial, kernel = layer.attention(x)
    batch, in_planes = x.shape[:2]
    out_planes, groups, k = layer.out_planes, layer.groups, layer.kernel_size
    in_per_group, out_per_group = in_planes // groups, out_planes // groups
    channel = per_sample(channel, batch, in_planes)
    filt = per_sample(filt, batch, out_planes)
    spatial = per_sample(spatial, batch, k * k).reshape(batch, 1, 1, k, k)
    kernel = per_sample(kernel, batch, layer.kernel_num)
    bank = layer.weight.double()  # [kernel_num, out, in / groups, k, k]
    if isinstance(getattr(layer, "bn", None), nn.BatchNorm2d):
        scale = layer.bn.weight.double() / torch.sqrt(layer.bn.running_var.double() + layer.bn.eps)
        shift = layer.bn.bias.double() - layer.bn.running_mean.double() * scale
    else:
        scale, shift = torch.ones(out_planes, dtype=torch.float64), torch.zeros(out_planes, dtype=torch.float64)
    # channel attention of output channel o's input channels: those of o's group
    group_of = torch.arange(out_planes) // out_per_group
    channel_of = group_of[:, None] * in_per_group + torch.arange(in_per_group)[None, :]  # [out, in / groups]
    outputs = []
    for n in range(batch):
        aggregated = torch.einsum("j,joikl->oikl", kernel[n], bank) * spatial[n]
        aggregated = aggregated * channel[n][channel_of][:, :, None, None] * (filt[n] * scale)[:, None, None, None]
        y = F.conv2d(to_bfloat16(x[n:n + 1]), to_bfloat16(aggregated), stride=layer.stride, padding=layer.padding,
                     dilation=layer.dilation, groups=groups)
        outputs.append(y + shift[None, :, None, None])
    return getattr(layer, "act", nn.Identity())(torch.cat(outputs))


def measure(model, x):
    """(odconv's bfloat16 error, autocast's, float32's) against float64 for a Sequential of ODConv layers."""
    model = model.eval()
    with torch.no_grad():
        model64 = copy.deepcopy(model).double()
        reference = model64(x.double())
        y = x.double()
        for layer in model64:
            y = odconv_bfloat16(layer, y)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = model(x).float()
        float32 = model(x)
    return error(y, reference), error(autocast, reference), error(float32, reference)


def golden_cases():
    for case in make_golden.CASES:
        torch.manual_seed(make_golden.case_seed(case.name))
        layers = []
        for spec in case.layers:
            layer = make_golden.build_layer(spec)
            randomize(layer)
            layers.append(layer)
        x = torch.randn(case.n, case.layers[0].c1, case.h, case.w) * case.input_scale
        yield case.name, nn.Sequential(*layers), x


def random_cases(count, seed):
    draw = random.Random(seed)
    torch.manual_seed(seed)
    for i in range(count):
        groups = draw.choice([1, 1, 1, 2, 4, "depthwise"])
        if groups == "depthwise":
            c1 = c2 = groups = draw.randint(1, 48)
        else:
            c1, c2 = groups * draw.randint(1, 24), groups * draw.randint(1, 24)
        k = draw.choice([1, 1, 3, 3, 3, 5])
        spec = make_golden.Layer(c1, c2, k=k, s=draw.choice([1, 1, 2]), g=groups, d=draw.choice([1, 1, 2]),
                                 kernel_num=draw.randint(1, 4), act=draw.choice(["silu", "relu", "identity"]),
                                 temperature=draw.choice([1.0, 1.0, 0.5, 3.0]), osvai=draw.random() < 0.25,
                                 reduction=draw.choice([0.0625, 0.25]), min_channel=draw.choice([16, 4]))
        layer = make_golden.build_layer(spec)
        randomize(layer)
        minimum = max(1, spec.d * (k - 1) + 1 - 2 * (k // 2))
        x = torch.randn(draw.randint(1, 3), c1, minimum + draw.randint(0, 14), minimum + draw.randint(0, 14))
        yield f"random {i}: {spec}", nn.Sequential(layer), x


def summary(errors):
    return {"max": max(errors), "median": statistics.median(errors), "count": len(errors)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configurations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    results = {}
    for name, cases in (("golden", golden_cases()), ("random", random_cases(args.configurations, args.seed))):
        rows = [(label, *measure(model, x)) for label, model, x in cases]
        results[name] = {"odconv_bf16": summary([r[1] for r in rows]), "autocast_bf16": summary([r[2] for r in rows]),
                         "float32": summary([r[3] for r in rows])}
        worst = max(rows, key=lambda r: r[1])
        results[name]["odconv_bf16"]["worst_case"] = worst[0]
        results[name]["odconv_over_autocast"] = summary([r[1] / r[2] for r in rows if r[2] > 0])
    print(f"error against float64, max |y - y64| / max(1, max |y64|); torch {torch.__version__}")
    print(f"{'set':8} {'scheme':16} {'median':>10} {'max':>10}")
    for name, figures in results.items():
        for scheme in ("float32", "odconv_bf16", "autocast_bf16", "odconv_over_autocast"):
            f = figures[scheme]
            print(f"{name:8} {scheme:16} {f['median']:10.3g} {f['max']:10.3g}  ({f['count']} cases)")
        print(f"{name:8} worst odconv_bf16 case: {figures['odconv_bf16']['worst_case']}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"torch": torch.__version__, "seed": args.seed, "results": results}, out, indent=2)


if __name__ == "__main__":
    main()
