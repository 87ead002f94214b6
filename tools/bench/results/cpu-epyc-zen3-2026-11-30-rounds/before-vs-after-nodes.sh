#!/usr/bin/env bash
# ONNX Runtime's profile of the network's (a) at 160x160, batch 1, with the build before this session's CPU changes
# (jar at /tmp/oldtree/target/odconv.jar, as in before-vs-after.sh) and with this one, alternating, three rounds;
# prints each ODConv2d node's median time (µs) per run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../../../target/whole-network"
JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for round in 1 2 3; do
  for build in before after; do
    jar=../odconv.jar; [ "$build" = before ] && jar=/tmp/oldtree/target/odconv.jar
    "$JAVA" -jar "$jar" onnx --model 160-odconv.onnx --input 160-b1-input.safetensors --iterations 200 --threads 2 \
      --profile "/tmp/nodes-$build-$round.json" >/dev/null
    /usr/bin/python3 - "$here/../../whole_network.py" "/tmp/nodes-$build-$round.json" "$round" "$build" <<'PY'
import os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from whole_network import node_times
nodes = {name: us for name, op, us in node_times(sys.argv[2]) if op == "ODConv2d"}
print(f"round {sys.argv[3]} {sys.argv[4]:6}", " ".join(f"{name.strip('/').rsplit('/', 1)[0]} {us:.0f}" for name, us in nodes.items()),
      f"sum {sum(nodes.values()):.0f}")
PY
  done
done
