#!/usr/bin/env python3
"""Would bfloat16 input and output tensors pay? The bfloat16 issue offers them "if it pays, measured". A bfloat16
layer takes float32 tensors: before its convolution oneDNN converts the input to bfloat16 (a reorder, float32 to
bfloat16), and the convolution writes float32. With bfloat16 tensors that conversion would go (in NHWC; in NCHW a
bfloat16-to-bfloat16 layout move would stay) and the output would be written in half the bytes.

This script measures the first part, the one that can be measured without building the feature: it runs
`odconv bench --precision bf16` once per case under ONEDNN_VERBOSE=profile_exec (one process per case, so each
process's oneDNN log is its case's), and sums oneDNN's own execution times of the case's primitives (each
primitive's median time, once per execution):

  - conversion: reorders of activations from float32 to bfloat16 (what bfloat16 input tensors remove);
  - moves: the other reorders of activations (layout moves, such as NCHW to the convolution's layout and back);
  - convolution: the convolution primitives.

Activations are told from weights by their dimensions: a reorder whose first dimension is the case's batch
(weights have out_planes first, at least 64 in S1-S5). The share printed per case is conversion / (conversion +
moves + convolution): the most bfloat16 input tensors could save of oneDNN's time in the forward. The output's
saving (writing bfloat16 instead of float32) is not in it: measuring it needs a convolution that writes bfloat16.

    python3 tools/bench/bf16_tensors.py --java "JAVA -jar target/odconv.jar" [--shapes S1,S2,S3,S4,S5]
        [--batches 1,8] [--layouts nchw,nhwc] [--threads 2] [--iters 20] [--precision bf16] [--json FILE]

--precision f32 runs the same on a CPU without bfloat16 (conversion is then 0: it exercises the script).
Exit status 1 when a bench run fails or a case's log holds no convolution.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys

# oneDNN's verbose exec line, comma-separated: onednn_verbose,[timestamp,]v1,primitive,exec,cpu,KIND,IMPL,PROP,
# MDS,ATTRS,AUX,DIMS,TIME_MS (the timestamp field only with ONEDNN_VERBOSE_TIMESTAMP=1).
KINDS = ("conversion", "moves", "convolution")


def data_types(mds):
    """{"src": "f32", "dst": "bf16", ...} from a verbose line's memory descriptors field."""
    types = {}
    for md in mds.split():
        argument, _, rest = md.partition(":")
        types[argument] = rest.split(":", 1)[0]
    return types


def classify(line, batch):
    """(kind, signature, milliseconds) for an exec line of one of KINDS, else None; the signature is the line
    without its time (the same primitive on the same memory descriptors)."""
    fields = line.rstrip("\n").split(",")
    if len(fields) < 6 or fields[0] != "onednn_verbose":
        return None
    try:
        start = fields.index("primitive")
    except ValueError:
        return None
    if fields[start + 1:start + 3] != ["exec", "cpu"]:
        return None
    kind, mds, dims, milliseconds = fields[start + 3], fields[start + 6], fields[-2], float(fields[-1])
    signature = ",".join(fields[start + 3:-1])
    if kind == "convolution":
        return "convolution", signature, milliseconds
    if kind != "reorder" or dims.split("x")[0] != str(batch):
        return None
    types = data_types(mds)
    if types.get("src") == "f32" and types.get("dst") == "bf16":
        return "conversion", signature, milliseconds
    return "moves", signature, milliseconds


def summarize(log_lines, batch):
    """{kind: total milliseconds} over a case's log. Each primitive counts its median time once per execution:
    first executions, which include oneDNN's code generation and cold caches, would otherwise weigh most."""
    times = {}
    for line in log_lines:
        classified = classify(line, batch)
        if classified:
            kind, signature, milliseconds = classified
            times.setdefault((kind, signature), []).append(milliseconds)
    totals = dict.fromkeys(KINDS, 0.0)
    for (kind, _), values in times.items():
        totals[kind] += statistics.median(values) * len(values)
    return totals


def share(totals):
    return totals["conversion"] / sum(totals.values())


def run_case(java, shape, batch, layout, threads, iters, precision):
    command = shlex.split(java) + ["bench", "--precision", precision, "--shapes", shape, "--batch", str(batch),
                                   "--layout", layout, "--threads", str(threads), "--iters", str(iters),
                                   "--warmup", "2"]
    env = dict(os.environ, ONEDNN_VERBOSE="profile_exec")
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"bf16_tensors: {shlex.join(command)} failed ({result.returncode}): "
                         f"{result.stderr.strip() or result.stdout[-2000:]}")
    totals = summarize(result.stdout.splitlines(), batch)
    if totals["convolution"] == 0:
        raise SystemExit(f"bf16_tensors: no convolution in oneDNN's log of {shape} b{batch} {layout}")
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--java", required=True, help="command line that runs odconv's CLI")
    parser.add_argument("--shapes", default="S1,S2,S3,S4,S5")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--layouts", default="nchw,nhwc")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters", type=int, default=20, help="timed forwards of each kind, per case")
    parser.add_argument("--precision", default="bf16", choices=["bf16", "f32"])
    parser.add_argument("--json", help="write every case's totals here")
    args = parser.parse_args()
    rows = []
    print(f"{'case':<16} {'conversion ms':>14} {'moves ms':>10} {'convolution ms':>15} {'conversion share':>17}")
    for shape in args.shapes.split(","):
        for batch in map(int, args.batches.split(",")):
            for layout in args.layouts.split(","):
                totals = run_case(args.java, shape, batch, layout, args.threads, args.iters, args.precision)
                row = {"shape": shape, "batch": batch, "layout": layout, "precision": args.precision,
                       **{f"{kind}_ms": totals[kind] for kind in KINDS}, "conversion_share": share(totals)}
                rows.append(row)
                print(f"{shape + ' b' + str(batch) + ' ' + layout:<16} {totals['conversion']:14.3f} "
                      f"{totals['moves']:10.3f} {totals['convolution']:15.3f} {row['conversion_share']:17.3f}",
                      flush=True)
    for layout in args.layouts.split(","):
        shares = [r["conversion_share"] for r in rows if r["layout"] == layout]
        print(f"{layout}: bfloat16 input tensors would save at most {min(shares):.1%} to {max(shares):.1%} of "
              f"oneDNN's time in the forward (median {statistics.median_high(shares):.1%})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "iters": args.iters, "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
