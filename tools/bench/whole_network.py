#!/usr/bin/python3
"""Whole-network benchmark: one YOLO-style ODConv network (tools/odconv_reference/yolo_net.py) timed four ways
on the CPU, at the same thread count, on the same random input per input size and batch:

  (a) odconv: exported with odconv_onnx.export_onnx (each ODConv one org.odconv::ODConv2d node), run by
      `odconv.jar onnx` in ONNX Runtime with odconv's operator registered;
  (b) decomposed: the same model exported by plain torch.onnx.export (ODConv decomposed into generic ONNX ops;
      the batch is fixed to the one timed, as the decomposition bakes it into reshapes), `onnx --plain`;
  (c) static: the model's static twin (every ODConv replaced by Conv2d+BN+act of its shape, random weights),
      exported by plain torch.onnx.export (batch dynamic, as (a)), `onnx --plain`: the cost floor;
  (d) PyTorch eager on the ODConv model, timed in this process (no_grad, torch.set_num_threads).

Each measurement is the median of --iterations runs after a warm-up, one process per ONNX Runtime run. The four
are measured --rounds times, alternating (a), (b), (c), (d) within each round, and each figure is the median of its
rounds: on a shared machine a process can run 1.5x slower than one minutes before it, and alternating gives each
way the same share of slow minutes. With --profile, (a) and (c) also run under ONNX Runtime's profiler
(`onnx --profile`) in every round, and the script prints where their time goes, each node's median over the rounds:
microseconds per run by operator type, ORT's NCHWc reorders included, and per ODConv layer, its node against the
twin's nodes for the same module (profiled runs are slower than timed ones; the split is what counts). A single
profile of each would not do: one taken in a slow minute made (a)'s nodes look 1.8x its twin's where alternating
rounds give 1.4x. Once per size and batch, (a)'s outputs are checked against PyTorch's (max abs error
<= 1e-4 * max(1, max|expected|), odconv_reference/accuracy.py). Targets: a/c <= 1.10 (every case), b/a >= 2 and d/a >= 2 (batch 1).

    /usr/bin/python3 tools/bench/whole_network.py [--sizes 160,320] [--batches 1,8] [--threads 2] [--width 32]
        [--iterations 100] [--rounds 3] [--work target/whole-network] [--java "JAVA -jar target/odconv.jar"]
        [--json FILE] [--profile] [--require-targets]

Needs target/odconv.jar (./mvnw -B -q -DskipTests -Dfuzz.skip package) and PyTorch. Exit status 1 on an
accuracy failure or a failed command; a missed speed target is only reported (exit 0) unless --require-targets.
"""

import argparse
import contextlib
import copy
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(REPO, "tools"), os.path.join(REPO, "tools", "export")]
from odconv_export import write_safetensors  # noqa: E402
from odconv_onnx import export_onnx, torchscript_exporter  # noqa: E402
from odconv_reference.accuracy import error_and_tolerance  # noqa: E402
from odconv_reference.modules import randomize  # noqa: E402
from odconv_reference.safetensors_reader import read_tensor  # noqa: E402
from odconv_reference.yolo_net import YoloODConvNet, static_twin  # noqa: E402
from pytorch_eager import cpu_name, median_ms  # noqa: E402

DEFAULT_JAVA = shlex.join(["/usr/lib/jvm/temurin-25-jdk-amd64/bin/java", "-jar",
                           os.path.join(REPO, "target", "odconv.jar")])
OUTPUTS = ["output0", "output1"]  # YoloODConvNet returns (p8, p16)
MAX_STATIC_RATIO = 1.10  # a/c, every case
MIN_SPEEDUP = 2.0  # b/a and d/a, at batch 1
OPSET = 17


@contextlib.contextmanager
def quiet_exporter():
    """Silences torch.onnx's shape-inference and deprecation chatter, the same on every export."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def plain_export(model, example, path, dynamic_batch):
    """torch.onnx.export as a user calls it (TorchScript exporter), every op generic."""
    kwargs = {"dynamic_axes": {name: {0: "batch"} for name in ["input", *OUTPUTS]}} if dynamic_batch else {}
    kwargs.update(torchscript_exporter())
    with torch.no_grad(), quiet_exporter():
        torch.onnx.export(model, (example,), path, opset_version=OPSET, input_names=["input"],
                          output_names=OUTPUTS, do_constant_folding=True, **kwargs)


def odconv_export(model, example, path, output_names=OUTPUTS):
    with quiet_exporter():
        export_onnx(model, example, path, opset=OPSET, output_names=output_names)


def run_onnx(args, model, inputs, json_path, plain=False, output=None, profile=None):
    """One timed `odconv.jar onnx` run; returns its JSON row. Exits on failure."""
    command = shlex.split(args.java) + ["onnx", "--model", model, "--input", inputs, "--threads", str(args.threads),
                                        "--iterations", str(args.iterations), "--json", json_path]
    if plain:
        command.append("--plain")
    if output:
        command += ["--output", output]
    if profile:
        command += ["--profile", profile]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"failed ({run.returncode}): {shlex.join(command)}\n{run.stdout}{run.stderr}")
    with open(json_path) as f:
        return json.load(f)


def node_times(profile_path):
    """[(node name, operator type, median microseconds per run)] from an ONNX Runtime profile, in the order the
    nodes ran; the median of the node's runs, as a preempted run on a shared machine can take 10x the others."""
    with open(profile_path) as f:
        events = json.load(f)
    durations, types = {}, {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            name = e["name"][:-len("_kernel_time")]
            durations.setdefault(name, []).append(e["dur"])
            types[name] = e["args"]["op_name"]
    return [(name, types[name], statistics.median(d)) for name, d in durations.items()]


def median_node_times(profile_paths):
    """node_times over several profiles of one model: each node's median over the profiles, in the order it ran."""
    times = {}
    for path in profile_paths:
        for name, op, us in node_times(path):
            times.setdefault((name, op), []).append(us)
    return [(name, op, statistics.median(us)) for (name, op), us in times.items()]


def microseconds_by_operator(nodes):
    """{operator type: microseconds per run} of node_times' list, most expensive first."""
    totals = {}
    for _, op, us in nodes:
        totals[op] = totals.get(op, 0.0) + us
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


# Nodes ONNX Runtime adds to move tensors between layouts: NCHWc reorders around its own convolutions, and the
# Transposes of the exporter's NHWC nodes that it could not fold.
LAYOUT_MOVES = ("ReorderInput", "ReorderOutput", "Transpose")


def microseconds_by_layer(odconv_nodes, twin_nodes):
    """Per ODConv layer: its node's time in (a), the other nodes (a) runs under the layer's module name (Transposes
    left unfolded), and the time (c) spends in the twin's nodes for the same module (Conv, activation)."""
    def under(nodes, prefix, exclude=None):
        return sum(us for name, _, us in nodes if name.startswith(prefix) and name != exclude)

    layers = []
    for name, op, us in odconv_nodes:
        if op != "ODConv2d":
            continue
        module = name.rsplit("/", 1)[0] + "/"  # "/down1/ODConv2d" -> "/down1/"
        layers.append({"layer": module.strip("/"), "odconv_us": us, "odconv_moves_us": under(odconv_nodes, module, name),
                       "twin_us": under(twin_nodes, module)})
    return layers


def print_profile(size, batch, profile):
    """Side by side: (a)'s and (c)'s microseconds per run by operator type, then per ODConv layer."""
    by_operator = profile["us_by_operator"]
    operators = list(dict.fromkeys([*by_operator["a"], *by_operator["c"]]))
    print(f"\n{size} b{batch}, profiled, microseconds per run:\n\n| operator | (a) odconv op | (c) static twin |")
    print("|---|---|---|")
    for op in operators:
        print(f"| {op} | {by_operator['a'].get(op, 0):.0f} | {by_operator['c'].get(op, 0):.0f} |")
    print(f"| total | {sum(by_operator['a'].values()):.0f} | {sum(by_operator['c'].values()):.0f} |")
    moves = [sum(by_operator[key].get(op, 0) for op in LAYOUT_MOVES) for key in "ac"]
    print(f"| of which layout moves ({', '.join(LAYOUT_MOVES)}) | {moves[0]:.0f} | {moves[1]:.0f} |")
    print("\n| layer | (a) ODConv2d node | (a) Transposes under it | (c) twin's Conv + activation | node / twin |")
    print("|---|---|---|---|---|")
    for layer in profile["us_by_layer"]:
        print(f"| {layer['layer']} | {layer['odconv_us']:.0f} | {layer['odconv_moves_us']:.0f} | "
              f"{layer['twin_us']:.0f} | {layer['odconv_us'] / layer['twin_us']:.2f} |")
    print(flush=True)


def max_error(output_path, expected):
    """(max abs error, tolerance) of the outputs in output_path against PyTorch's, over all outputs."""
    error, tolerance = 0.0, 0.0
    for name, reference in zip(OUTPUTS, expected):
        reference = reference.numpy()
        actual = read_tensor(output_path, name)
        if actual.shape != reference.shape:
            raise SystemExit(f"{output_path}: {name} is {list(actual.shape)}, PyTorch's {list(reference.shape)}")
        output_error, output_tolerance = error_and_tolerance(reference, actual)
        error, tolerance = max(error, output_error), max(tolerance, output_tolerance)
    return error, tolerance


def build_models(width):
    """The ODConv network and its static twin, eval mode, random weights from fixed seeds."""
    model = YoloODConvNet(width=width).eval()
    randomize(model, torch.Generator().manual_seed(0), scaled_by_fan_in=True)
    twin = static_twin(copy.deepcopy(model)).eval()
    randomize(twin, torch.Generator().manual_seed(1), scaled_by_fan_in=True)
    return model, twin


def bench_case(args, model, odconv_onnx, static_onnx, size, batch):
    """Times (a)-(d) for one input size and batch and checks (a)'s accuracy; returns the row."""
    prefix = os.path.join(args.work, f"{size}-b{batch}")
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(size * 100 + batch))
    inputs = prefix + "-input.safetensors"
    write_safetensors(inputs, [("input", x)])
    with torch.no_grad():
        expected = model(x)
    decomposed = prefix + "-decomposed.onnx"
    try:
        plain_export(model, x, decomposed, dynamic_batch=False)
    except Exception as e:  # noqa: BLE001  the TorchScript exporter, deprecated in PyTorch 2.x, may refuse it
        # (b) is the one way that needs the decomposed export: without it the other three are still measured,
        # and (b)'s target counts as missed.
        print(f"{size} b{batch}: (b) not measured: torch.onnx.export of the decomposed model failed: "
              f"{type(e).__name__}: {e}", flush=True)
        decomposed = None

    rounds = {key: [] for key in ("abcd" if decomposed else "acd")}
    warmup = max(3, min(50, args.iterations // 5))  # as the onnx command's
    for round_index in range(args.rounds):
        output = prefix + "-odconv-output.safetensors" if round_index == 0 else None
        rounds["a"].append(run_onnx(args, odconv_onnx, inputs, prefix + "-a.json", output=output))
        if round_index == 0:
            error, tolerance = max_error(output, expected)
        if decomposed:
            rounds["b"].append(run_onnx(args, decomposed, inputs, prefix + "-b.json", plain=True))
        rounds["c"].append(run_onnx(args, static_onnx, inputs, prefix + "-c.json", plain=True))
        d_median, d_p10, d_p90 = median_ms(model, x, warmup, args.iterations)
        rounds["d"].append({"median_ms": d_median, "p10_ms": d_p10, "p90_ms": d_p90})
        if args.profile:  # in every round too, so that (a)'s and (c)'s profiles share the machine's slow spells
            for key, model_path, plain in (("a", odconv_onnx, False), ("c", static_onnx, True)):
                run_onnx(args, model_path, inputs, f"{prefix}-{key}-profiled.json", plain=plain,
                         profile=f"{prefix}-{key}-profile-{round_index + 1}.json")

    row = {"size": size, "batch": batch, "max_error": error, "tolerance": tolerance,
           "accurate": error <= tolerance, "odconv_nodes": rounds["a"][0]["odconv_nodes"], "rounds": args.rounds}
    for key, results in rounds.items():
        # The round whose median is the median of the rounds' medians, with its own p10 and p90.
        middle = sorted(results, key=lambda r: r["median_ms"])[len(results) // 2]
        row.update({f"{key}_ms": middle["median_ms"], f"{key}_p10_ms": middle["p10_ms"],
                    f"{key}_p90_ms": middle["p90_ms"], f"{key}_round_ms": [r["median_ms"] for r in results]})
    if not decomposed:
        row.update({"b_ms": None, "b_p10_ms": None, "b_p90_ms": None, "b_round_ms": []})
    row.update({"a_over_c": row["a_ms"] / row["c_ms"], "b_over_a": row["b_ms"] / row["a_ms"] if decomposed else None,
                "d_over_a": row["d_ms"] / row["a_ms"]})
    if args.profile:
        nodes = {key: median_node_times([f"{prefix}-{key}-profile-{r + 1}.json" for r in range(args.rounds)])
                 for key in "ac"}
        row["profile"] = {"us_by_operator": {key: microseconds_by_operator(nodes[key]) for key in "ac"},
                          "us_by_layer": microseconds_by_layer(nodes["a"], nodes["c"])}
    per_round = "; ".join(f"({key}) " + "/".join(f"{ms:.2f}" for ms in row[f"{key}_round_ms"]) for key in rounds)
    print(f"{size} b{batch}: (a) {row['a_ms']:.2f} ms, (b) {number(row['b_ms'])} ms, (c) {row['c_ms']:.2f} ms, "
          f"(d) {row['d_ms']:.2f} ms; max |odconv - PyTorch| = {error:.3g} (tolerance {tolerance:.3g})"
          f"{'' if row['accurate'] else ' INACCURATE'}\n  rounds, ms: {per_round}", flush=True)
    if args.profile:
        print_profile(size, batch, row["profile"])
    return row


def number(value):
    """A time or ratio as the tables print it; "n/a" for one not measured."""
    return "n/a" if value is None else f"{value:.2f}"


def targets(row):
    """{column: met} for the targets that apply to this row; a ratio not measured is a target missed."""
    met = {"a_over_c": row["a_over_c"] <= MAX_STATIC_RATIO}
    if row["batch"] == 1:
        met["b_over_a"] = row["b_over_a"] is not None and row["b_over_a"] >= MIN_SPEEDUP
        met["d_over_a"] = row["d_over_a"] >= MIN_SPEEDUP
    return met


def print_table(rows):
    header = ["size", "batch", "(a) ms", "(b) ms", "(c) ms", "(d) ms", "a/c", "b/a", "d/a"]
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    hit = total = 0
    for row in rows:
        met = targets(row)
        hit, total = hit + sum(met.values()), total + len(met)
        ratios = [number(row[k]) + (f" {'met' if met[k] else 'missed'}" if k in met else "")
                  for k in ("a_over_c", "b_over_a", "d_over_a")]
        times = [number(row[k]) for k in ("a_ms", "b_ms", "c_ms", "d_ms")]
        print("| " + " | ".join([str(row["size"]), str(row["batch"]), *times, *ratios]) + " |")
    print(f"\ntargets: a/c <= {MAX_STATIC_RATIO:.2f} (every case), b/a >= {MIN_SPEEDUP:g} and d/a >= {MIN_SPEEDUP:g}"
          f" (batch 1): {hit} of {total} met")
    return total - hit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="160,320", help="input heights = widths, multiples of 16")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=2, help="for ONNX Runtime, odconv and PyTorch alike")
    parser.add_argument("--width", type=int, default=32, help="YoloODConvNet's channel width")
    parser.add_argument("--iterations", type=int, default=100, help="timed runs per measurement")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measurements of each of (a)-(d), alternating; each figure is the median of its rounds")
    parser.add_argument("--work", default=os.path.join(REPO, "target", "whole-network"),
                        help="folder for the models, inputs and outputs")
    parser.add_argument("--java", default=DEFAULT_JAVA, help="command line that runs odconv.jar")
    parser.add_argument("--json", help="write every row and the machine here")
    parser.add_argument("--profile", action="store_true",
                        help="also profile (a) and (c) in ONNX Runtime and print their time by operator type")
    parser.add_argument("--require-targets", action="store_true",
                        help="exit with status 1 when a speed target is missed (the device check's CPU part)")
    args = parser.parse_args()
    if args.rounds < 1 or args.iterations < 1:
        parser.error("--rounds and --iterations must be at least 1")
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(args.threads)
    machine = {"cpu": cpu_name(), "threads": args.threads, "torch": torch.__version__}
    print(f"{machine['cpu']}; threads {args.threads}; PyTorch {torch.__version__}; YoloODConvNet width {args.width};"
          f" {args.iterations} iterations, {args.rounds} rounds\n", flush=True)

    start = time.monotonic()
    model, twin = build_models(args.width)
    rows = []
    for size in sizes:
        example = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(size))
        odconv_onnx = os.path.join(args.work, f"{size}-odconv.onnx")
        static_onnx = os.path.join(args.work, f"{size}-static.onnx")
        odconv_export(model, example, odconv_onnx)
        plain_export(twin, example, static_onnx, dynamic_batch=True)
        rows += [bench_case(args, model, odconv_onnx, static_onnx, size, batch) for batch in batches]
    missed = print_table(rows)
    print(f"whole_network: {time.monotonic() - start:.0f} s")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "width": args.width, "iterations": args.iterations, "rounds": args.rounds,
                       "opset": OPSET,
                       "results": rows}, f, indent=2)
    inaccurate = [f"{r['size']} b{r['batch']}" for r in rows if not r["accurate"]]
    if inaccurate:
        raise SystemExit(f"whole_network: odconv's output differs from PyTorch's beyond tolerance: "
                         f"{', '.join(inaccurate)}")
    if missed and args.require_targets:
        raise SystemExit(f"whole_network: {missed} speed target(s) missed (--require-targets)")


if __name__ == "__main__":
    main()
