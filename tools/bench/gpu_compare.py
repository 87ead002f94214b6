#!/usr/bin/env python3
"""The GPU check's comparison with PyTorch: accuracy of odconv's CUDA forward against the seed module on
the same GPU (TF32 off), and one table of odconv's timings against PyTorch eager and the static cuDNN
convolution floor, with the targets of the GPU issue.

    python3 tools/bench/gpu_compare.py --java "JAVA -cp 'LIB/*' org.odconv.cli.Main" --work DIR \\
        --odconv odconv-gpu.json --pytorch pytorch-gpu.json

--odconv is `bench --device cuda --json` output, --pytorch is `pytorch_eager.py --device cuda` output;
--pytorch-compiled, optional, is `pytorch_eager.py --device cuda --compile` output: torch.compile with CUDA
graphs, shown beside eager as the anchor to beat (no target of its own yet). --bfloat16, optional, is `bench
--precision f32,bf16` output, tabled against float32 with the bfloat16 target; --pytorch-bfloat16 and
--pytorch-compiled-bfloat16 add PyTorch's bfloat16 autocast, eager and compiled, beside it as anchors.
Exit status 0 only when every case is accurate and every target is met. --device also accepts cpu, which
lets the accuracy half run on a machine without a GPU.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

import torch
import torch.nn as nn

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOOLS, os.path.join(TOOLS, "export")]
from odconv_export import export_odconv, save_layer_io  # noqa: E402
from odconv_reference.accuracy import error_and_tolerance  # noqa: E402
from odconv_reference.modules import ODConv2d, randomize  # noqa: E402  (the YOLO-style seed module)
from odconv_reference.safetensors_reader import read_tensor  # noqa: E402
from pytorch_eager import SHAPES, use_exact_float32  # noqa: E402

# Targets on an H100/H200 (the GPU issue): PyTorch eager / odconv at batch 1 and 8, odconv / floor.
MIN_SPEEDUP = {1: 3.0, 8: 2.0}
MAX_FLOOR_RATIO = 1.3
# The bfloat16 issue's target: float32 odconv / bfloat16 odconv at batch 8.
MIN_BFLOAT16_SPEEDUP = {8: 1.5}


def check_accuracy(java, work, device, batches):
    """Runs each shape through `odconv run --device ...` and PyTorch on the same device; returns
    {(shape, batch): (max_error, tolerance)}."""
    use_exact_float32()
    torch_device = torch.device(device)
    results = {}
    for index, (name, cin, cout, k, s, g, hw, kn) in enumerate(SHAPES):
        torch.manual_seed(1000 + index)
        layer = ODConv2d(cin, cout, k, s=s, g=g, kernel_num=kn)
        randomize(layer)
        model = nn.Sequential()
        model.add_module("layer", layer)
        model.eval()
        model_path = os.path.join(work, f"{name}.safetensors")
        export_odconv(model, model_path)
        for batch in batches:
            x = torch.randn(batch, cin, hw, hw)
            input_path = os.path.join(work, f"{name}-b{batch}-input.safetensors")
            output_path = os.path.join(work, f"{name}-b{batch}-odconv.safetensors")
            save_layer_io(model, x, "layer", input_path)
            with torch.no_grad():
                expected = model.to(torch_device)(x.to(torch_device)).cpu().numpy()
            model.cpu()
            command = shlex.split(java) + ["run", "--device", device, "--model", model_path, "--input", input_path,
                                          "--output", output_path]
            run = subprocess.run(command, capture_output=True, text=True)
            if run.returncode != 0:
                raise SystemExit(f"odconv run failed for {name} b{batch} ({' '.join(command)}):\n"
                                 f"{run.stdout}{run.stderr}")
            actual = read_tensor(output_path, "output")
            if actual.shape != expected.shape:
                raise SystemExit(f"{name} b{batch}: odconv output {actual.shape}, PyTorch {expected.shape}")
            error, tolerance = error_and_tolerance(expected, actual)
            results[(name, batch)] = (error, tolerance)
            print(f"accuracy {name} b{batch}: max |odconv - PyTorch| = {error:.3g} (tolerance {tolerance:.3g})",
                  flush=True)
    return results


def rows_by_case(path, layout="nchw"):
    with open(path) as f:
        report = json.load(f)
    return report, {(r["shape"], r["batch"]): r for r in report["results"] if r.get("layout", "nchw") == layout}


def print_table(odconv_path, pytorch_path, accuracy, compiled_path=None):
    """Prints the table; returns the number of misses."""
    odconv_report, odconv = rows_by_case(odconv_path)
    pytorch_report, pytorch = rows_by_case(pytorch_path)
    compiled_report, compiled = rows_by_case(compiled_path) if compiled_path else ({}, {})
    machine = odconv_report.get("machine", {})
    print()
    print(f"odconv: {machine.get('gpu') or machine.get('onednn', '?')}")
    print(f"PyTorch: {pytorch_report.get('machine', {}).get('onednn', '?')}")
    if compiled_path:
        print(f"PyTorch compiled: {compiled_report.get('machine', {}).get('onednn', '?')}")
    header = ("case", "odconv ms", "native ms", "floor ms", "PyTorch ms", "PyT/odconv", "compiled ms",
              "compiled/odconv", "odconv/floor", "max err / tol", "verdict")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    misses = 0
    for name, *_ in SHAPES:
        for batch in sorted({b for (shape, b) in odconv if shape == name}):
            ours = odconv[(name, batch)]
            theirs = pytorch.get((name, batch))
            speedup = theirs["odconv_ms"] / ours["odconv_ms"] if theirs else float("nan")
            compiled_ms = compiled[(name, batch)]["odconv_ms"] if (name, batch) in compiled else float("nan")
            floor_ratio = ours["odconv_ms"] / ours["floor_ms"]
            error, tolerance = accuracy.get((name, batch), (float("nan"), float("nan")))
            problems = []
            if not error <= tolerance:
                problems.append("accuracy")
            if batch in MIN_SPEEDUP and not speedup >= MIN_SPEEDUP[batch]:
                problems.append(f"< {MIN_SPEEDUP[batch]:g}x PyTorch")
            if not floor_ratio <= MAX_FLOOR_RATIO:
                problems.append(f"> {MAX_FLOOR_RATIO:g}x floor")
            misses += bool(problems)
            print(f"| {name} b{batch} | {ours['odconv_ms']:.4f} | {ours.get('native_ms', float('nan')):.4f} | "
                  f"{ours['floor_ms']:.4f} | {theirs['odconv_ms'] if theirs else float('nan'):.4f} | "
                  f"{speedup:.2f} | {compiled_ms:.4f} | {compiled_ms / ours['odconv_ms']:.2f} | "
                  f"{floor_ratio:.3f} | {error:.2g} / {tolerance:.2g} | "
                  f"{'PASS' if not problems else 'MISS: ' + ', '.join(problems)} |")
    return misses


def print_bfloat16_table(path, pytorch_path=None, compiled_path=None):
    """bench --precision f32,bf16 output: per case float32 and bfloat16 odconv and floors, beside PyTorch's bfloat16
    autocast, eager and compiled, where given (anchors, no target); returns the misses."""
    with open(path) as f:
        rows = json.load(f)["results"]
    by_case = {(r["shape"], r["batch"], r.get("precision", "f32")): r for r in rows if r.get("layout", "nchw") == "nchw"}
    anchors = [(label, rows_by_case(p)[1]) for label, p in (("PyTorch bf16", pytorch_path),
                                                            ("compiled bf16", compiled_path)) if p]
    print()
    header = ("case", "f32 ms", "bf16 ms", "f32/bf16", "bf16 floor ms", "bf16/floor",
              *[h for label, _ in anchors for h in (f"{label} ms", f"{label}/bf16")], "verdict")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    misses = 0
    for (shape, batch, precision), bf16 in sorted(by_case.items()):
        f32 = by_case.get((shape, batch, "f32"))
        if precision != "bf16" or f32 is None:
            continue
        speedup = f32["odconv_ms"] / bf16["odconv_ms"]
        wanted = MIN_BFLOAT16_SPEEDUP.get(batch)
        miss = wanted is not None and not speedup >= wanted
        misses += miss
        anchor_cells = ""
        for _, theirs in anchors:
            ms = theirs[(shape, batch)]["odconv_ms"] if (shape, batch) in theirs else float("nan")
            anchor_cells += f"{ms:.4f} | {ms / bf16['odconv_ms']:.2f} | "
        print(f"| {shape} b{batch} | {f32['odconv_ms']:.4f} | {bf16['odconv_ms']:.4f} | {speedup:.2f} | "
              f"{bf16['floor_ms']:.4f} | {bf16['odconv_ms'] / bf16['floor_ms']:.3f} | {anchor_cells}"
              f"{('MISS: < %gx float32' % wanted) if miss else 'PASS' if wanted else '-'} |")
    return misses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--java", required=True, help="command line that runs odconv's CLI")
    parser.add_argument("--work", required=True, help="folder for model, input and output files")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--odconv", help="bench --json output (omit to check accuracy only)")
    parser.add_argument("--pytorch", help="pytorch_eager.py output")
    parser.add_argument("--pytorch-compiled", help="pytorch_eager.py --compile output (optional)")
    parser.add_argument("--bfloat16", help="bench --precision f32,bf16 output (optional): bfloat16 against float32")
    parser.add_argument("--pytorch-bfloat16", help="pytorch_eager.py --precision bf16 output (optional), with --bfloat16")
    parser.add_argument("--pytorch-compiled-bfloat16",
                        help="pytorch_eager.py --compile --precision bf16 output (optional), with --bfloat16")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    accuracy = check_accuracy(args.java, args.work, args.device, [int(b) for b in args.batch.split(",")])
    inaccurate = sum(1 for error, tolerance in accuracy.values() if not error <= tolerance)
    misses = (print_table(args.odconv, args.pytorch, accuracy, args.pytorch_compiled) if args.odconv and args.pytorch
              else inaccurate)
    if args.bfloat16:
        misses += print_bfloat16_table(args.bfloat16, args.pytorch_bfloat16, args.pytorch_compiled_bfloat16)
    print(f"\ngpu_compare: {len(accuracy) - inaccurate}/{len(accuracy)} cases accurate, "
          f"{misses} case(s) missing a target")
    sys.exit(1 if misses or inaccurate else 0)


if __name__ == "__main__":
    main()
