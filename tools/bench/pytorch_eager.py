#!/usr/bin/python3
"""Times the PyTorch seed module (eager, eval mode) on the bench command's shapes and writes the results
in the bench JSON schema, for `java -jar target/odconv.jar bench --compare pytorch.json --report r.html`.

    /usr/bin/python3 tools/bench/pytorch_eager.py --threads 2 --output pytorch.json
    python3 tools/bench/pytorch_eager.py --device cuda --output pytorch-gpu.json   # TF32 off, as odconv
    python3 tools/bench/pytorch_eager.py --device cuda --compile --output pytorch-compiled.json
    python3 tools/bench/pytorch_eager.py --device cuda --precision bf16 --output pytorch-bf16.json

--compile times torch.compile(mode="reduce-overhead") instead of eager (PyTorch 2.0 or newer; on a GPU it
replays CUDA graphs): what a PyTorch user picks for latency, the anchor odconv's GPU forward is compared with.
--precision bf16 runs under torch.autocast(dtype=torch.bfloat16), as a PyTorch user gets bfloat16; rows carry
"precision".

On a GPU each timed forward ends with torch.cuda.synchronize(), as odconv's GPU forward returns only once
the output is written.

Other systems' files carry their time in "odconv_ms" (the schema's system-under-test column) and leave out
native_ms and floor_ms. Run it on the machine and thread count of the bench run it is compared with.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/
from odconv_reference.modules import ODConv2d  # noqa: E402  (the YOLO-style seed module)

STANDARD_SHAPES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "src", "main", "resources", "org", "odconv", "bench", "standard-shapes.txt")


def read_shapes(path=STANDARD_SHAPES):
    """[(name, in, out, k, stride, groups, hw, kernel_num)]: the bench command's standard shapes, from the file
    its Java reads them from."""
    shapes = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                shapes.append((fields[0], *map(int, fields[1:])))
    return shapes


SHAPES = read_shapes()


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def use_exact_float32():
    """TF32 off, PyTorch's float32 as odconv computes it by default (no-op on CPUs)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def compiled(module):
    """torch.compile(module, mode="reduce-overhead"), or SystemExit naming the PyTorch version without it."""
    if not hasattr(torch, "compile"):
        raise SystemExit(f"--compile needs torch.compile (PyTorch 2.0 or newer); this is PyTorch {torch.__version__}")
    return torch.compile(module, mode="reduce-overhead")


@torch.no_grad()
def median_ms(module, x, warmup, iterations):
    wait = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    for _ in range(warmup):
        module(x)
    wait()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        module(x)
        wait()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return statistics.median(times), times[len(times) // 10], times[(len(times) * 9) // 10]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--output", required=True)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--compile", action="store_true", help='torch.compile(mode="reduce-overhead") instead of eager')
    parser.add_argument("--precision", choices=("f32", "bf16"), default="f32", help="bf16: under bfloat16 autocast")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    device_name = "cpu" if device.type == "cpu" else f"cuda:{device.index or 0}"  # as odconv's JSON rows name it
    use_exact_float32()
    rows = []
    for name, cin, cout, k, s, g, hw, kn in SHAPES:
        module = ODConv2d(cin, cout, k, s=s, g=g, kernel_num=kn).eval().to(device)
        if args.compile:
            module = compiled(module)
        for batch in (int(b) for b in args.batch.split(",")):
            x = torch.randn(batch, cin, hw, hw, device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                median, p10, p90 = median_ms(module, x, args.warmup, args.iters)
            print(f"{name} b{batch}: {median:.3f} ms (p10 {p10:.3f}, p90 {p90:.3f})", flush=True)
            rows.append({"shape": name, "in": cin, "out": cout, "k": k, "stride": s, "groups": g, "hw": hw,
                         "kernel_num": kn, "batch": batch, "layout": "nchw", "device": device_name,
                         "precision": args.precision, "odconv_ms": median,
                         "odconv_p10_ms": p10, "odconv_p90_ms": p90})
    how = 'torch.compile(mode="reduce-overhead")' if args.compile else "eager"
    machine = {"cpu": cpu_name(), "threads": args.threads,
               "onednn": f"PyTorch {torch.__version__} {how}, seed module"
                         + (", bfloat16 autocast" if args.precision == "bf16" else ""), "isa": ""}
    if device.type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(device)
        machine["onednn"] += f", cuDNN {torch.backends.cudnn.version()}, TF32 off"
    report = {"machine": machine, "results": rows}
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
