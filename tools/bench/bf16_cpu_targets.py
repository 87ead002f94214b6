#!/usr/bin/env python3
"""The bfloat16 issue's CPU targets, read off one `bench --precision f32,bf16` file run on a CPU with bfloat16
instructions (AVX512-BF16 or AMX), 2 threads, S1-S5, batches 1 and 8, NCHW and NHWC:

  - batch 1: bfloat16 odconv <= 0.60x the float32 floor (geometric mean over the cases);
  - batch 1: bfloat16 odconv <= 1.10x the bfloat16 floor (geometric mean);
  - batch 8: bfloat16 odconv <= 1.15x the bfloat16 floor (geometric mean).

    python3 tools/bench/bf16_cpu_targets.py odconv-cpu-bf16.json [--pytorch pytorch-cpu-bf16.json]

Prints every case (float32 and bfloat16 times, their floors, the ratios) and each target with its geometric
mean and worst case. --pytorch, `pytorch_eager.py --device cpu --precision bf16` output (the seed module under
PyTorch's bfloat16 autocast, same threads), adds it beside each case: what a PyTorch user gets in bfloat16 on
the same CPU, an anchor without a target. Exit status 0 only when the file holds every case in both precisions and every target is
met; 1 otherwise (a file without bfloat16 rows, from a CPU without the instructions, fails with the reason).
"""

import argparse
import json
import statistics
import sys

MAX_BF16_OVER_F32_FLOOR = {1: 0.60}
MAX_BF16_OVER_BF16_FLOOR = {1: 1.10, 8: 1.15}


def cases_by_precision(rows):
    """{precision: {(shape, batch, layout): row}} for the CPU rows; rows without "precision" are float32."""
    cases = {}
    for row in rows:
        if row.get("device", "cpu") != "cpu":
            continue
        key = (row["shape"], row["batch"], row["layout"])
        cases.setdefault(row.get("precision", "f32"), {})[key] = row
    return cases


def evaluate(report, pytorch=None):
    """Prints the table and the targets, with PyTorch's bfloat16 times where given (a pytorch_eager.py report);
    returns the list of failures (empty when every target is met)."""
    machine = report.get("machine", {})
    print(f"machine: {machine.get('cpu', '?')}, isa {machine.get('isa', '?')}, {machine.get('threads', '?')} threads")
    cases = cases_by_precision(report["results"])
    float32, bfloat16 = cases.get("f32", {}), cases.get("bf16", {})
    if not bfloat16:
        return [f"no bfloat16 rows: the CPU ({machine.get('isa', '?')}) did not compute in bfloat16"]
    failures = [f"{' '.join(map(str, key))}: no float32 row beside the bfloat16 one"
                for key in bfloat16 if key not in float32]
    anchor = {(r["shape"], r["batch"]): r["odconv_ms"] for r in pytorch["results"]} if pytorch else {}
    print(f"{'case':<16} {'f32 ms':>9} {'f32 floor':>10} {'bf16 ms':>9} {'bf16 floor':>11} "
          f"{'bf16/f32 floor':>15} {'bf16/bf16 floor':>16}" + (f" {'PyTorch bf16 ms':>16} {'PyTorch/bf16':>13}"
                                                                 if pytorch else ""))
    over_f32_floor, over_bf16_floor, pytorch_speedups = {}, {}, {}
    for key, row in bfloat16.items():
        f = float32.get(key)
        if f is None:
            continue
        shape, batch, layout = key
        against_f32 = row["odconv_ms"] / f["floor_ms"]
        against_bf16 = row["odconv_ms"] / row["floor_ms"]
        over_f32_floor.setdefault(batch, []).append(against_f32)
        over_bf16_floor.setdefault(batch, []).append(against_bf16)
        line = (f"{shape + ' b' + str(batch) + ' ' + layout:<16} {f['odconv_ms']:9.3f} {f['floor_ms']:10.3f} "
                f"{row['odconv_ms']:9.3f} {row['floor_ms']:11.3f} {against_f32:15.3f} {against_bf16:16.3f}")
        if (shape, batch) in anchor:
            speedup = anchor[(shape, batch)] / row["odconv_ms"]
            pytorch_speedups.setdefault(batch, []).append(speedup)
            line += f" {anchor[(shape, batch)]:16.3f} {speedup:13.2f}"
        print(line)
    for batch, speedups in sorted(pytorch_speedups.items()):
        print(f"PyTorch's bfloat16 autocast / odconv in bfloat16, batch {batch}: geometric mean "
              f"{statistics.geometric_mean(speedups):.2f} over {len(speedups)} cases (an anchor, no target)")
    f32_ratios = [r["odconv_ms"] / r["floor_ms"] for r in float32.values()]
    print(f"float32 odconv/floor: geometric mean {statistics.geometric_mean(f32_ratios):.3f} over {len(f32_ratios)} cases")
    for name, limits, ratios in (("bfloat16 odconv / float32 floor", MAX_BF16_OVER_F32_FLOOR, over_f32_floor),
                                 ("bfloat16 odconv / bfloat16 floor", MAX_BF16_OVER_BF16_FLOOR, over_bf16_floor)):
        for batch, limit in limits.items():
            values = ratios.get(batch)
            if not values:
                failures.append(f"{name}, batch {batch}: no cases")
                continue
            mean = statistics.geometric_mean(values)
            met = mean <= limit
            print(f"{name}, batch {batch}: geometric mean {mean:.3f} (worst {max(values):.3f}) over "
                  f"{len(values)} cases, target <= {limit:.2f}: {'met' if met else 'MISSED'}")
            if not met:
                failures.append(f"{name}, batch {batch}: {mean:.3f} > {limit:.2f}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_json", help="`odconv bench --precision f32,bf16 --json` output")
    parser.add_argument("--pytorch", help="`pytorch_eager.py --device cpu --precision bf16 --output` output")
    args = parser.parse_args()
    with open(args.bench_json) as f:
        report = json.load(f)
    pytorch = None
    if args.pytorch:
        with open(args.pytorch) as f:
            pytorch = json.load(f)
    failures = evaluate(report, pytorch)
    for failure in failures:
        print("FAILED: " + failure)
    print("bfloat16 CPU targets " + ("missed" if failures else "met"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
