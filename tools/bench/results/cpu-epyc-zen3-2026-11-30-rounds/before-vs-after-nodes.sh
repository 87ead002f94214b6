#!/usr/bin/env bash
# ONNX Runtime's profile of the network's (a) at 160x160 and 320x320, batch 1, with the build before this session's
# CPU changes (jar at /tmp/oldtree/target/odconv.jar, as in before-vs-after.sh) and with this one, alternating,
# three rounds; prints each ODConv2d node's median time (µs) per run, their sum, and the sum over all nodes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../../../target/whole-network"
JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for case in "160 200" "320 60"; do
  set -- $case
  for round in 1 2 3; do
    for build in before after; do
      jar=../odconv.jar; [ "$build" = before ] && jar=/tmp/oldtree/target/odconv.jar
      "$JAVA" -jar "$jar" onnx --model "$1-odconv.onnx" --input "$1-b1-input.safetensors" --iterations "$2" \
        --threads 2 --profile "/tmp/nodes-$build-$round.json" >/dev/null
      /usr/bin/python3 - "$here/../../whole_network.py" "/tmp/nodes-$build-$round.json" "$1" "$round" "$build" <<'PY'
import os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from whole_network import node_times
nodes = node_times(sys.argv[2])
odconv = {name: us for name, op, us in nodes if op == "ODConv2d"}
print(f"{sys.argv[3]} round {sys.argv[4]} {sys.argv[5]:6}",
      " ".join(f"{name.strip('/').rsplit('/', 1)[0]} {us:.0f}" for name, us in odconv.items()),
      f"ODConv2d sum {sum(odconv.values()):.0f}, all nodes {sum(us for _, _, us in nodes):.0f}")
PY
    done
  done
done
