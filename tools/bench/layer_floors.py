#!/usr/bin/python3
"""Per ODConv layer of the whole-network benchmark's network, the two factors of its node's time against its twin's:
odconv against a static oneDNN convolution of the same shape, and that oneDNN convolution against ONNX Runtime's own.

For each ODConv layer of YoloODConvNet at one input size (its shape found by running the model once, with hooks):

  odconv   the layer's native forward, `odconv.jar bench --shape ...` (native_ms: no Java in the loop), NHWC, batch 1,
           on odconv's own OpenMP threads;
  node     the same layer exported alone with export_onnx (one NHWC org.odconv::ODConv2d node), its node's median
           time in ONNX Runtime's profile: the same work on ONNX Runtime's intra-op pool;
  floor    the static oneDNN convolution bench times beside it (same shape, BatchNorm as bias, SiLU as post-op);
  ort      ONNX Runtime's convolution of the same shape: Conv2d + BatchNorm + SiLU exported by torch.onnx with
           constant weights, as the static twin's layer is, which ONNX Runtime runs on its own NCHWc kernels (MLAS);
           the median time of its Conv and activation nodes in ONNX Runtime's profile (`onnx --profile`), so the
           reorders ONNX Runtime adds at the model's edges are left out, as they are inside a network.

odconv/floor is what odconv's dynamic kernel costs over a static convolution (attention, aggregation); floor/ort is
oneDNN's kernel against ONNX Runtime's on this machine. Their product estimates the ODConv node against the twin's
Conv + activation, whole_network.py --profile's per-layer "node / twin" column; node/ORT measures it on the layer
alone. Each kind is measured --rounds times, alternating, and each figure is the median of its rounds.

    /usr/bin/python3 tools/bench/layer_floors.py [--size 160] [--threads 2] [--width 32] [--iterations 200]
        [--rounds 3] [--work target/layer-floors] [--java "JAVA -jar target/odconv.jar"] [--json FILE]

Needs target/odconv.jar and PyTorch. Exit status 1 on a failed command.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from whole_network import (DEFAULT_JAVA, LAYOUT_MOVES, OPSET, build_models, node_times, odconv_export,  # noqa: E402
                           quiet_exporter)
from odconv_export import write_safetensors  # noqa: E402  (tools/export, on the path whole_network sets)
from pytorch_eager import cpu_name  # noqa: E402


def odconv_layers(model, size):
    """[(module name, module, input height)] of every ODConv module, in the order the network runs them."""
    found = []
    hooks = [module.register_forward_hook(lambda m, inputs, output, name=name: found.append((name, m, inputs[0].shape[2])))
             for name, module in model.named_modules() if hasattr(module, "kernel_num") and hasattr(module, "attention")]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for hook in hooks:
        hook.remove()
    return found


def shape_of(module, height):
    """bench's --shape: in,out,k,stride,groups,hw,kernel_num."""
    return (f"{module.in_planes},{module.out_planes},{module.kernel_size},{module.stride},{module.groups},{height},"
            f"{module.kernel_num}")


def static_layer(module):
    """Conv2d + BatchNorm + SiLU of the module's shape, eval mode, fixed random weights."""
    generator = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(module.in_planes, module.out_planes, module.kernel_size, module.stride,
                           module.kernel_size // 2, groups=module.groups, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * conv.weight[0].numel() ** -0.5)
    return torch.nn.Sequential(conv, torch.nn.BatchNorm2d(module.out_planes), torch.nn.SiLU()).eval()


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {shlex.join(command)}\n{result.stdout}{result.stderr}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=160, help="the network's input height = width")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--width", type=int, default=32, help="YoloODConvNet's channel width")
    parser.add_argument("--iterations", type=int, default=200, help="timed runs per measurement")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measurements of each kind, alternating; each figure is the median of its rounds")
    parser.add_argument("--work", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "target",
                                                       "layer-floors"))
    parser.add_argument("--java", default=DEFAULT_JAVA, help="command line that runs odconv.jar")
    parser.add_argument("--json", help="write the rows and the machine here")
    args = parser.parse_args()
    if args.rounds < 1 or args.iterations < 1:
        parser.error("--rounds and --iterations must be at least 1")
    os.makedirs(args.work, exist_ok=True)
    java = shlex.split(args.java)

    model, _ = build_models(args.width)
    layers = odconv_layers(model, args.size)
    prefixes = {}
    for name, module, height in layers:
        prefix = prefixes[name] = os.path.join(args.work, name.replace(".", "-"))
        x = torch.randn(1, module.in_planes, height, height, generator=torch.Generator().manual_seed(height))
        write_safetensors(prefix + "-input.safetensors", [("input", x)])
        with torch.no_grad(), quiet_exporter():
            torch.onnx.export(static_layer(module), (x,), prefix + ".onnx", opset_version=OPSET,
                              input_names=["input"], output_names=["output"])
        odconv_export(module, x, prefix + "-odconv.onnx", output_names=["output"])

    # Per layer and kind, one time per round; the rounds alternate the kinds, so a slow spell of this shared
    # machine falls on all of them alike.
    times = {name: {key: [] for key in ("odconv_us", "node_us", "floor_us", "ort_us")} for name, _, _ in layers}
    bench_json = os.path.join(args.work, "bench.json")
    bench_command = java + ["bench", "--batch", "1", "--layout", "nhwc", "--threads", str(args.threads),
                            "--iters", str(args.iterations), "--json", bench_json]
    for _, module, height in layers:
        bench_command += ["--shape", shape_of(module, height)]
    for _ in range(args.rounds):
        run(bench_command)
        with open(bench_json) as f:
            bench = {r["shape"]: r for r in json.load(f)["results"]}
        for name, module, height in layers:
            result = bench[shape_of(module, height)]
            times[name]["odconv_us"].append(result["native_ms"] * 1e3)
            times[name]["floor_us"].append(result["floor_ms"] * 1e3)
            prefix = prefixes[name]
            for key, model_path, plain in (("ort_us", prefix + ".onnx", True),
                                           ("node_us", prefix + "-odconv.onnx", False)):
                profile = f"{prefix}-{key}-profile.json"
                run(java + ["onnx", "--model", model_path, "--input", prefix + "-input.safetensors",
                            "--threads", str(args.threads), "--iterations", str(args.iterations),
                            "--profile", profile] + (["--plain"] if plain else []))
                # The layer's own nodes (Conv and its activation, or the ODConv2d node), not the reorders and
                # Transposes at the model's edges.
                times[name][key].append(sum(us for _, op, us in node_times(profile) if op not in LAYOUT_MOVES))

    rows = []
    for name, module, height in layers:
        row = {"layer": name, "shape": shape_of(module, height),
               **{key: statistics.median(values) for key, values in times[name].items()},
               **{key.replace("_us", "_round_us"): values for key, values in times[name].items()}}
        row.update({"odconv_over_floor": row["odconv_us"] / row["floor_us"],
                    "floor_over_ort": row["floor_us"] / row["ort_us"],
                    "node_over_ort": row["node_us"] / row["ort_us"]})
        rows.append(row)

    machine = {"cpu": cpu_name(), "threads": args.threads}
    print(f"{machine['cpu']}; threads {args.threads}; YoloODConvNet width {args.width} at {args.size}x{args.size}, "
          f"batch 1, NHWC; medians of {args.iterations} runs, median of {args.rounds} rounds, microseconds\n")
    print("| layer | shape in,out,k,s,g,hw,kn | odconv | node | oneDNN floor | ORT conv | odconv/floor | floor/ORT "
          "| node/ORT |")
    print("|---|---|---|---|---|---|---|---|---|")
    totals = {key: sum(r[key] for r in rows) for key in ("odconv_us", "node_us", "floor_us", "ort_us")}
    for r in [*rows, {"layer": "all", "shape": "", **totals}]:
        print(f"| {r['layer']} | {r['shape']} | {r['odconv_us']:.0f} | {r['node_us']:.0f} | {r['floor_us']:.0f} | "
              f"{r['ort_us']:.0f} | {r['odconv_us'] / r['floor_us']:.2f} | {r['floor_us'] / r['ort_us']:.2f} | "
              f"{r['node_us'] / r['ort_us']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "size": args.size, "width": args.width, "iterations": args.iterations,
                       "rounds": args.rounds,
                       "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
