#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, nvcc, CMake and Python with PyTorch and the
# nvidia-cudnn package, but no Java, no Maven and no network. Prepare target/gpu-check here first with
# scripts/gpu-bundle.sh; then, from the repository root on the GPU machine:
#   bash scripts/gpu-check.sh [gpu] [cpu]   (device tool: run(command=..., carry=["target/gpu-check"]))
# The GPU part (the default)
#  1. builds native/ (the CPU library and the CUDA backend, sm_90) against cuDNN from site-packages;
#  2. runs the native tests: ctest, whose odconv_cuda_test compares the GPU with the CPU and a C
#     reference, and whose cudnn_api_check compiles our cuDNN declarations against the real header;
#  3. runs the Java tests tagged "devices" (each behaviour on every device present, the CPU and GPU 0: the
#     golden files, random configurations, layers, the CLI; and CudaOnlyTest: TF32, streams, pinned memory)
#     with the carried jlink runtime and JUnit's console launcher;
#  4. times odconv's GPU forward (bench --device cuda), PyTorch eager and torch.compile (mode
#     reduce-overhead, CUDA graphs; the seed module, same GPU) on S1-S5 at batch 1 and 8, checks odconv's
#     outputs against PyTorch's, and prints one table; then odconv in float32 and bfloat16 side by side
#     (bench --precision f32,bf16; target: bfloat16 at least 1.5x float32 at batch 8), beside PyTorch's
#     bfloat16 autocast, eager and compiled. ODCONV_CHECK_COMPILE=0 leaves the torch.compile steps out, whose
#     compiling takes minutes, where a session's device time is short.
#
# The device machine's CPU (an Intel Xeon with AVX-512 and AMX on the H200 machines) is also where the CPU targets
# this development machine cannot measure are measured: `bash scripts/gpu-check.sh cpu` runs the CPU part
# instead; `gpu cpu` runs both at once, the GPU part beside the CPU part on the cores the CPU part does not time
# on (one call of the device tool then brings back both: docs/gpu.md, "Both parts in one call"). Pinned to two
# physical cores, as the targets are set for 2 threads, the CPU part
#  1. checks that the CPU computes in bfloat16 (`info`) and runs the bfloat16 tests on it: the native reference
#     cases (odconv_abi_test bfloat16), BFloat16Test and the bfloat16 demo against PyTorch;
#  2. times float32 and bfloat16 (bench --precision f32,bf16, S1-S5, batches 1 and 8, NCHW and NHWC) and checks
#     the bfloat16 issue's CPU targets (tools/bench/bf16_cpu_targets.py), with PyTorch's bfloat16 autocast beside;
#  3. runs the whole-network benchmark (tools/bench/whole_network.py: the ONNX Runtime operator against the
#     decomposed export, the static twin and PyTorch, with ONNX Runtime's profile) and checks its targets;
#  4. measures what bfloat16 input tensors would save (tools/bench/bf16_tensors.py, a diagnostic).
# The CPU part needs no GPU. ODCONV_CHECK_QUICK=1 cuts it down to a run of seconds that judges accuracy but not
# speed, and where the CPU lacks bfloat16 instructions reports the bfloat16 steps as not run instead of failed
# (ODCONV_REQUIRE_BF16=0 does that alone): CI runs it so on its own CPU, to keep the script and the bundle working.
# PYTHON names the Python with PyTorch where that is not python3.
# Everything it writes goes to $OUT (default target/gpu-check-out). Exit status: the number of failed
# steps (0 = the check passed).
set -uo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
root=$PWD
bundle=$root/target/gpu-check
out=${OUT:-$root/target/gpu-check-out}
work=$root/target/gpu-work
python=${PYTHON:-python3}  # the Python that holds PyTorch
parts=("$@")
((${#parts[@]})) || parts=(gpu)
for part in "${parts[@]}"; do
  [[ $part == gpu || $part == cpu ]] || { echo "usage: bash scripts/gpu-check.sh [gpu] [cpu]"; exit 64; }
done
has_part() { [[ " ${parts[*]} " == *" $1 "* ]]; }
mkdir -p "$out" "$work"
exec > >(tee "$out/$(IFS=-; echo "${parts[*]}")-check.log") 2>&1
started=$SECONDS
failed=()

step() { echo; echo "== [$((SECONDS - started)) s] $*"; }
# Records a failed step (and why, where given); the check goes on with the next one.
step_failed() { failed+=("$1"); echo "!! step failed: $1${2:+: $2}"; }
# Runs a named step; a failing step is recorded.
run_step() {
  local name=$1; shift
  step "$name"
  "$@" || step_failed "$name"
}

[[ -f $bundle/jre.tar.xz ]] || { echo "no $bundle: run scripts/gpu-bundle.sh where Java is, and carry it"; exit 64; }
# The carried Java runtime and oneDNN are x86-64 builds.
[[ $(uname -m) == x86_64 ]] || { echo "this check carries x86-64 binaries; this machine is $(uname -m)"; exit 66; }

step "environment"
cmake --version | head -1
"$python" - <<'PY'
import torch
print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(),
      "GPU", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
PY
if has_part gpu; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
  nvcc --version | tail -1
  # cuDNN from the NVIDIA wheels: nvidia-cudnn-cu12 keeps it in nvidia/cudnn/{include,lib}; the CUDA 13
  # wheels may use another folder (nvidia/cu13/...), so look for the files rather than for one layout.
  nvidia_dirs=$("$python" - <<'PY'
import importlib
try:
    print("\n".join(importlib.import_module("nvidia").__path__))
except ImportError:
    pass
PY
  )
  cudnn_library=$(find $nvidia_dirs -name 'libcudnn.so.9*' 2>/dev/null | sort | head -1)
  if [[ -z $nvidia_dirs || -z $cudnn_library ]]; then
    echo "cuDNN not found: no libcudnn.so.9 under the Python package nvidia (${nvidia_dirs:-not installed})"
    exit 65
  fi
  cudnn_header=$(find $nvidia_dirs -name cudnn.h 2>/dev/null | head -1)
  echo "cuDNN: $cudnn_library; header: ${cudnn_header:-none (the declarations check is skipped)}"
  # CUDNN_ROOT/include/cudnn.h is what the declarations check (native/tests) compiles against.
  [[ -n $cudnn_header ]] && export CUDNN_ROOT=$(dirname "$(dirname "$cudnn_header")")
  export ODCONV_CUDNN_LIBRARY=$cudnn_library
  # cuDNN's sub-libraries may need other NVIDIA wheels' libraries (cuBLAS, NVRTC, the runtime): all of them.
  for nvidia_lib in $(find $nvidia_dirs -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u); do
    LD_LIBRARY_PATH=$nvidia_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  done
  export LD_LIBRARY_PATH
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  # GPU tests fail, instead of skipping, when the GPU cannot be used: a skip must not pass the check.
  export ODCONV_REQUIRE_CUDA=1
fi

step "unpacking oneDNN and the Java runtime"
mkdir -p "$work/onednn"
tar -xJf "$bundle/onednn.tar.xz" -C "$work/onednn"
tar -xJf "$bundle/jre.tar.xz" -C "$work"
java=$work/jre/bin/java
"$java" -version 2>&1 | head -1
natives=$work/natives

# One build folder for both parts: a second call on a warm machine only builds what the first did not.
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
build_native() {  # build_native ON|OFF (the CUDA backend)
  cmake -S native -B "$work/build" "${generator[@]}" -DDNNL_ROOT="$work/onednn" -DODCONV_CUDA="$1" \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_INSTALL_PREFIX="$natives" -DCMAKE_BUILD_TYPE=Release \
    >"$work/cmake.log" 2>&1 &&
    { grep -E 'CUDA backend|cuDNN declarations' "$work/cmake.log" || true; } &&
    cmake --build "$work/build" -j "$(nproc)" >"$work/build.log" 2>&1 &&
    cmake --install "$work/build" >/dev/null &&
    ls -la "$natives" &&
    { [[ $1 == OFF ]] || [[ -f $natives/libodconv_cuda.so ]]; } ||
    { tail -60 "$work/cmake.log" "$work/build.log"; return 1; }
}
if has_part gpu; then
  run_step "build native/ with the CUDA backend" build_native ON
else
  run_step "build native/ (CPU)" build_native OFF
fi

# The CPU part times on two physical cores, the first CPU of each of the first two cores (the targets are set for
# 2 threads), so that neither hyperthread siblings nor other work change what it measures; a GPU part running
# beside it gets every CPU of the other cores.
# Per CPU: "CPU core first", the core numbered in order of first appearance, first 1 for the core's first CPU.
cpu_cores=$(lscpu -p=CPU,CORE,SOCKET 2>/dev/null | grep -v '^#' |
  awk -F, '{key = $3 "," $2; first = !(key in core); if (first) core[key] = ++n; print $1, core[key], first}')
timing_cpus=$(awk '$2 <= 2 && $3 {print $1}' <<<"$cpu_cores" | paste -sd,)
other_cpus=$(awk '$2 > 2 {print $1}' <<<"$cpu_cores" | paste -sd,)

# The carried classes hold no natives: the library loads from the folder just built.
java_cli=("$java" --enable-native-access=ALL-UNNAMED -Dodconv.library.path="$natives" -cp "$bundle/lib/*"
  org.odconv.cli.Main)
junit() {  # junit REPORTS_FOLDER SELECTORS...: JUnit's console launcher over the carried classes
  local reports=$1; shift
  timeout 240 "$java" --enable-native-access=ALL-UNNAMED -Dodconv.library.path="$natives" \
    -jar "$bundle"/launcher/junit-platform-console-standalone-*.jar execute \
    --class-path "$(ls "$bundle"/lib/*.jar | paste -sd:)" --class-path "$bundle/test-classes" \
    "$@" --fail-if-no-tests --details=tree --disable-banner --reports-dir "$work/$reports"
}

gpu_part() {
  # Written here and archived into $out at the end, so that a call cut short leaves no more than 8 files there;
  # emptied first, since a warm machine keeps the last call's.
  gpu_results=$work/gpu-results
  rm -rf "$gpu_results" && mkdir -p "$gpu_results"
  # Diagnostic, not counted: whether CUDA and cuDNN capture the forward as a graph at all. Where they do not,
  # layers fall back to launching kernel by kernel (correct, slower at small batches). It runs beside the
  # counted tests to save device time.
  (cd "$work/build" && ctest --output-on-failure --timeout 120 -R graphs_required >"$work/graphs.log" 2>&1) &
  graphs_diagnostic=$!
  native_tests() {
    (cd "$work/build" && ctest --output-on-failure --timeout 150 -j 4 -E graphs_required)
  }
  run_step "native tests (ctest)" native_tests
  step "CUDA graph capture (diagnostic)"
  wait "$graphs_diagnostic" ||
    echo "graph capture refused: see the message below; forwards fall back to direct launches"
  tail -40 "$work/graphs.log"

  java_tests() { junit junit --scan-class-path "$bundle/test-classes" --include-tag devices; }
  run_step "Java tests on every device (tag devices)" java_tests
  # The last of the GPU part's steps that keep many cores busy: a CPU part running beside it times from here on.
  touch "$work/gpu-tests.done"
  # One archive: the device tool brings back at most 8 files.
  tar -C "$work" -czf "$out/junit-reports.tar.gz" junit 2>/dev/null || true

  run_step "odconv info (devices)" timeout 60 "${java_cli[@]}" info

  bench_odconv() {  # bench_odconv JSON_FILE
    timeout 120 "${java_cli[@]}" bench --device cuda --batch 1,8 --layout nchw --warmup 50 --iters 300 --json "$1"
  }
  run_step "odconv bench on the GPU" bench_odconv "$gpu_results/odconv-gpu.json"

  # Float32 and bfloat16 side by side (the bfloat16 layer against a bfloat16 cuDNN floor).
  bench_odconv_bfloat16() {
    timeout 240 "${java_cli[@]}" bench --device cuda --precision f32,bf16 --batch 1,8 --layout nchw --warmup 50 \
      --iters 300 --json "$gpu_results/odconv-gpu-bf16.json"
  }
  run_step "odconv bench on the GPU, float32 and bfloat16" bench_odconv_bfloat16

  # The same without CUDA graph replay, to see what the graphs buy (not part of the targets).
  bench_odconv_without_graphs() { ODCONV_CUDA_GRAPHS=0 bench_odconv "$gpu_results/odconv-gpu-without-graphs.json"; }
  run_step "odconv bench on the GPU, graphs off" bench_odconv_without_graphs

  bench_pytorch() {
    timeout 150 "$python" tools/bench/pytorch_eager.py --device cuda --batch 1,8 --warmup 50 --iters 300 \
      --output "$gpu_results/pytorch-gpu.json"
  }
  run_step "PyTorch eager on the GPU" bench_pytorch

  # torch.compile with CUDA graphs, what a PyTorch user picks for latency: the anchor beside eager. Compiling
  # takes minutes; a failure here is recorded and the table goes on without the column.
  bench_pytorch_compiled() {
    timeout 420 "$python" tools/bench/pytorch_eager.py --device cuda --compile --batch 1,8 --warmup 50 --iters 300 \
      --output "$gpu_results/pytorch-compiled-gpu.json"
  }
  if [[ ${ODCONV_CHECK_COMPILE:-1} == 1 ]]; then
    run_step "PyTorch torch.compile (reduce-overhead) on the GPU" bench_pytorch_compiled
  else
    echo "torch.compile steps skipped (ODCONV_CHECK_COMPILE=0)"
  fi

  # PyTorch's bfloat16 (autocast), eager and compiled: the anchors beside odconv's bfloat16 layers.
  bench_pytorch_bfloat16() {
    timeout 150 "$python" tools/bench/pytorch_eager.py --device cuda --precision bf16 --batch 1,8 --warmup 50 \
      --iters 300 --output "$gpu_results/pytorch-gpu-bf16.json"
  }
  run_step "PyTorch eager in bfloat16 (autocast) on the GPU" bench_pytorch_bfloat16
  bench_pytorch_compiled_bfloat16() {
    timeout 420 "$python" tools/bench/pytorch_eager.py --device cuda --compile --precision bf16 --batch 1,8 \
      --warmup 50 --iters 300 --output "$gpu_results/pytorch-compiled-gpu-bf16.json"
  }
  [[ ${ODCONV_CHECK_COMPILE:-1} == 1 ]] &&
    run_step "PyTorch torch.compile in bfloat16 on the GPU" bench_pytorch_compiled_bfloat16

  compare() {
    local optional=()
    [[ -f $gpu_results/pytorch-compiled-gpu.json ]] &&
      optional=(--pytorch-compiled "$gpu_results/pytorch-compiled-gpu.json")
    if [[ -f $gpu_results/odconv-gpu-bf16.json ]]; then
      optional+=(--bfloat16 "$gpu_results/odconv-gpu-bf16.json")
      [[ -f $gpu_results/pytorch-gpu-bf16.json ]] && optional+=(--pytorch-bfloat16 "$gpu_results/pytorch-gpu-bf16.json")
      [[ -f $gpu_results/pytorch-compiled-gpu-bf16.json ]] &&
        optional+=(--pytorch-compiled-bfloat16 "$gpu_results/pytorch-compiled-gpu-bf16.json")
    fi
    timeout 240 "$python" tools/bench/gpu_compare.py --java "${java_cli[*]}" --work "$work/compare" --device cuda \
      --odconv "$gpu_results/odconv-gpu.json" --pytorch "$gpu_results/pytorch-gpu.json" "${optional[@]}"
  }
  run_step "accuracy against PyTorch and the table" compare

  # Diagnostic, not counted: GPU time per kernel of the forward at batch 1 (graphs off, so each kernel is its
  # own launch), to see which stage to work on next. cuDNN's algorithm search shows up here too.
  step "kernel times under Nsight Compute (diagnostic)"
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [[ -n $ncu ]]; then
    ODCONV_CUDA_GRAPHS=0 timeout 90 "$ncu" --target-processes all --clock-control none --cache-control none \
      --metrics gpu__time_duration.sum --print-summary per-kernel \
      "${java_cli[@]}" bench --device cuda --batch 1 --warmup 3 --iters 10 --shapes S1,S4,S5 2>&1 |
      grep -v '^==PROF==' | tail -150 || echo "Nsight Compute run failed or timed out"
  else
    echo "ncu not found"
  fi
  # The device tool brings back at most 8 files: the GPU part's JSON files go back as one archive.
  (cd "$gpu_results" && tar -czf "$out/gpu-results.tar.gz" ./*.json 2>/dev/null) || echo "no GPU results to archive"
}

# The CPU part, its timings on $timing_cpus.
cpu_part() {
  step "the CPU"
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\))' || true
  grep -o -w 'avx512[a-z_0-9]*\|amx[a-z_0-9]*\|avx_vnni\|avx_ne_convert' /proc/cpuinfo | sort -u | paste -sd' '
  local pin=()
  if command -v taskset >/dev/null && [[ -n $timing_cpus ]]; then
    pin=(taskset -c "$timing_cpus")
    echo "pinned to CPUs $timing_cpus"
  else
    echo "not pinned (no taskset or no CPU list): timings may use more than two cores"
  fi
  local info
  if ! info=$("${java_cli[@]}" info 2>&1); then
    echo "$info"
    step_failed "odconv info (CPU)"
    return
  fi
  echo "$info"
  # A quick run proves the steps work; the full one measures (its sizes fit the device tool's 10 minutes a call).
  local quick=${ODCONV_CHECK_QUICK:-0} bench_args=(--warmup 20 --iters 100)
  # --profile: where each node's time goes, against the static twin's, for the next step if a target is missed.
  local network_args=(--rounds 3 --iterations 30 --profile --require-targets)
  if [[ $quick == 1 ]]; then
    bench_args=(--shapes S1 --warmup 2 --iters 5)
    network_args=(--sizes 160 --batches 1 --rounds 1 --iterations 3)
    echo "quick run (ODCONV_CHECK_QUICK=1): accuracy is judged, speed is not"
  fi
  local bfloat16=yes require=${ODCONV_REQUIRE_BF16:-$((1 - quick))}
  if grep -q '^    bf16: no' <<<"$info"; then
    bfloat16=no
    if [[ $require == 1 ]]; then
      step_failed "bfloat16 on the CPU" \
        "this CPU has no bfloat16 instructions (ODCONV_REQUIRE_BF16=0 runs the float32 steps alone)"
    else
      echo "bfloat16 steps not run: this CPU has no bfloat16 instructions (ODCONV_REQUIRE_BF16=0)"
    fi
  fi

  if [[ $bfloat16 == yes ]]; then
    # Every bfloat16 test fails instead of skipping: the step above found the instructions.
    bfloat16_tests() {
      "$work/build/tests/odconv_abi_test" bfloat16 &&
        ODCONV_REQUIRE_BF16=1 junit junit-bfloat16 --select-class org.odconv.BFloat16Test \
          --select-method 'org.odconv.cli.PrecisionCommandTest#demoInBfloat16MatchesOrIsRefusedInOneLine'
    }
    run_step "bfloat16 tests on the CPU (native reference cases, BFloat16Test, the demo)" bfloat16_tests
    tar -C "$work" -czf "$out/junit-bfloat16-reports.tar.gz" junit-bfloat16 2>/dev/null || true
  fi

  # Beside the GPU part, the timings start once its tests, which keep many cores and the memory busy, are over.
  if [[ -n ${gpu_part_pid:-} ]]; then
    step "waiting for the GPU part's tests to end"
    local waited=0
    while [[ ! -e $work/gpu-tests.done ]] && kill -0 "$gpu_part_pid" 2>/dev/null && ((waited < 300)); do
      sleep 2
      waited=$((waited + 2))
    done
    echo "waited $waited s"
  fi

  local precisions=f32
  [[ $bfloat16 == yes ]] && precisions=f32,bf16
  bench_cpu() {
    timeout 300 "${pin[@]}" "${java_cli[@]}" bench --precision "$precisions" --batch 1,8 --layout nchw,nhwc \
      --threads 2 "${bench_args[@]}" --json "$out/odconv-cpu.json"
  }
  run_step "odconv bench on two cores, $precisions" bench_cpu
  if [[ $bfloat16 == yes ]]; then
    # PyTorch's bfloat16 autocast on the same cores: what a PyTorch user gets, beside the targets (no target).
    local pytorch_args=(--warmup 10 --iters 50)
    [[ $quick == 1 ]] && pytorch_args=(--warmup 1 --iters 3)
    pytorch_cpu_bfloat16() {
      timeout 240 "${pin[@]}" "$python" tools/bench/pytorch_eager.py --device cpu --threads 2 --precision bf16 \
        --batch 1,8 "${pytorch_args[@]}" --output "$out/pytorch-cpu-bf16.json"
    }
    run_step "PyTorch eager in bfloat16 (autocast) on two cores" pytorch_cpu_bfloat16
    local anchor=()
    [[ -f $out/pytorch-cpu-bf16.json ]] && anchor=(--pytorch "$out/pytorch-cpu-bf16.json")
    bfloat16_targets() { "$python" tools/bench/bf16_cpu_targets.py "$out/odconv-cpu.json" "${anchor[@]}"; }
    if [[ $quick == 1 ]]; then
      bfloat16_targets || echo "(quick run: not counted)"
    else
      run_step "bfloat16 CPU targets" bfloat16_targets
    fi
  fi

  whole_network() {
    timeout 420 "${pin[@]}" "$python" tools/bench/whole_network.py --threads 2 --java "${java_cli[*]}" \
      --work "$work/whole-network" --json "$out/whole-network-cpu.json" "${network_args[@]}"
  }
  run_step "whole network in ONNX Runtime on two cores" whole_network

  # Diagnostic, counted only if it cannot run: the bfloat16 issue offers bfloat16 input and output tensors "if it
  # pays"; this measures the input conversion they would remove (docs/bfloat16.md, Speed).
  local tensors_args=(--shapes S1,S2,S3,S4,S5 --batches 1,8)
  [[ $quick == 1 ]] && tensors_args=(--shapes S1 --batches 1 --iters 5)
  if [[ $bfloat16 == yes ]]; then tensors_args+=(--precision bf16); else tensors_args+=(--precision f32); fi
  bfloat16_tensors() {
    timeout 240 "${pin[@]}" "$python" tools/bench/bf16_tensors.py --java "${java_cli[*]}" --threads 2 \
      "${tensors_args[@]}" --json "$out/bf16-tensors.json"
  }
  # The device tool stops a call at 10 minutes: past 8, the diagnostic gives way, so that the summary (and the GPU
  # part's log, in a combined call) still reach the end of the log.
  if ((SECONDS - started > ${ODCONV_CHECK_DIAGNOSTIC_UNTIL_S:-480})); then
    step "would bfloat16 tensors pay? skipped: $((SECONDS - started)) s gone (ODCONV_CHECK_DIAGNOSTIC_UNTIL_S)"
  else
    run_step "would bfloat16 tensors pay? (the input conversion's share, diagnostic)" bfloat16_tensors
  fi
}

if has_part gpu && has_part cpu; then
  # Both parts in one call: the GPU part in the background on $other_cpus, its log in $out while it runs (so that
  # a call cut short still brings it back) and appended to this one when it ends.
  rm -f "$work/gpu-tests.done" "$work/gpu-part.failed"
  (
    if command -v taskset >/dev/null && [[ -n $other_cpus ]]; then
      taskset -pc "$other_cpus" "$BASHPID" >/dev/null && echo "GPU part on CPUs $other_cpus"
    fi
    failed=()
    gpu_part
    touch "$work/gpu-tests.done"
    printf '%s\n' "${failed[@]}" >"$work/gpu-part.failed"
  ) >"$out/gpu-part.log" 2>&1 &
  gpu_part_pid=$!
  echo "GPU part started beside the CPU part (its log: gpu-part.log, appended at the end)"
  cpu_part
  step "waiting for the GPU part"
  wait "$gpu_part_pid"
  echo "== the GPU part's log"
  cat "$out/gpu-part.log" && rm -f "$out/gpu-part.log"
  if [[ -f $work/gpu-part.failed ]]; then
    while IFS= read -r name; do [[ -n $name ]] && failed+=("$name"); done <"$work/gpu-part.failed"
  else
    step_failed "GPU part" "it ended without its list of failed steps"
  fi
else
  has_part gpu && gpu_part
  has_part cpu && cpu_part
fi

step "done in $((SECONDS - started)) s"
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}"
else
  echo "check passed (${parts[*]})"
fi
exit "${#failed[@]}"
