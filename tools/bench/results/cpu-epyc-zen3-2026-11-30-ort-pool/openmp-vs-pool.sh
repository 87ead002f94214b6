cd "$(dirname "$0")/../../../../target/whole-network"
JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
m(){ python3 -c 'import json;print(round(json.load(open("/tmp/ab.json"))["median_ms"],2))'; }
for r in 1 2 3; do
 for case in "160 1 200" "160 8 40" "320 1 60" "320 8 20"; do
  set -- $case
  o=$($JAVA -jar /tmp/oldtree/target/odconv.jar onnx --model $1-odconv.onnx --input $1-b$2-input.safetensors --threads 2 --iterations $3 --json /tmp/ab.json >/dev/null && m)
  n=$($JAVA -jar ../odconv.jar onnx --model $1-odconv.onnx --input $1-b$2-input.safetensors --threads 2 --iterations $3 --json /tmp/ab.json >/dev/null && m)
  c=$($JAVA -jar ../odconv.jar onnx --plain --model $1-static.onnx --input $1-b$2-input.safetensors --threads 2 --iterations $3 --json /tmp/ab.json >/dev/null && m)
  echo "round $r size $1 batch $2: old $o new $n static $c"
 done
done
