#!/usr/bin/env bash
# The whole network's (a) with the build before this session's CPU changes (commit 51ad8b1, its jar at
# /tmp/oldtree/target/odconv.jar: `git worktree add /tmp/oldtree 51ad8b1` and `./mvnw -B -q -DskipTests
# -Dfuzz.skip package` there) against this one (../../../../target/odconv.jar), and (c), alternating, five
# rounds, one process per cell; models and inputs from `whole_network.py` in target/whole-network/.
set -euo pipefail
cd "$(dirname "$0")/../../../../target/whole-network"
JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
median() { /usr/bin/python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["median_ms"], 2))' "$1"; }
run() { "$JAVA" -jar "$@" --threads 2 --json /tmp/before-vs-after.json >/dev/null && median /tmp/before-vs-after.json; }
for round in 1 2 3 4 5; do
  for case in "160 1 200" "160 8 40" "320 1 60" "320 8 20"; do
    set -- $case
    before=$(run /tmp/oldtree/target/odconv.jar onnx --model "$1-odconv.onnx" --input "$1-b$2-input.safetensors" --iterations "$3")
    after=$(run ../odconv.jar onnx --model "$1-odconv.onnx" --input "$1-b$2-input.safetensors" --iterations "$3")
    static=$(run ../odconv.jar onnx --plain --model "$1-static.onnx" --input "$1-b$2-input.safetensors" --iterations "$3")
    echo "round $round size $1 batch $2: before $before after $after static $static"
  done
done
