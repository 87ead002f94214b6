#!/usr/bin/env bash
# Prepares target/gpu-check/, everything scripts/gpu-check.sh needs on a GPU machine that has no Java,
# no Maven and no network: a jlink'd Java runtime, the compiled classes and test classes (without the
# native libraries), their dependency jars (ONNX Runtime's with its x86-64 Linux natives only), JUnit's
# console launcher, and oneDNN (headers and libraries, xz-compressed) for building native/ there. Run it
# here after ./mvnw package; then run the check with
#   run(command="ODCONV_CHECK_COMPILE=0 bash scripts/gpu-check.sh gpu cpu", carry=["target/gpu-check"], timeout_s=600)
# The bundle stays under 60 MB (the device tool carries 64 MiB at most).
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
bundle=target/gpu-check
junit_platform_version=1.14.4

[[ -d target/classes/org/odconv && -d target/test-classes/org/odconv ]] ||
  ./mvnw -B -q -DskipTests -Dfuzz.skip package
rm -rf "$bundle"
mkdir -p "$bundle/lib"

# Classes without the bundled CPU natives: the check builds native/ on the GPU machine itself.
# Everything else (classes, the demo model) goes in, so a new package or resource cannot be left behind.
"$JAVA_HOME/bin/jar" --create --file "$bundle/lib/odconv-classes.jar" \
  $(cd target/classes && find org/odconv -mindepth 1 -maxdepth 1 ! -name native -printf '-C target/classes %p ')
# Test classes as a folder: the golden files are memory-mapped, so they must be files, not jar entries.
cp -r target/test-classes "$bundle/test-classes"
./mvnw -B -q dependency:copy-dependencies -DincludeScope=test -DexcludeGroupIds=com.code-intelligence,com.microsoft.onnxruntime \
  -DoutputDirectory="$bundle/lib"
./mvnw -B -q dependency:copy \
  -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_platform_version" \
  -DoutputDirectory="$bundle/launcher"
# ONNX Runtime for the CPU part's whole-network benchmark (`onnx` in the carried Java), slimmed to its classes
# and its x86-64 Linux natives: the published jar carries every platform's (over 180 MB unpacked).
ort_staging=$(mktemp -d)
./mvnw -B -q dependency:copy-dependencies -DincludeScope=test -DincludeGroupIds=com.microsoft.onnxruntime \
  -DexcludeTransitive=true -DoutputDirectory="$ort_staging/jar"
ort_jar=$(ls "$ort_staging"/jar/onnxruntime-*.jar)
mkdir "$ort_staging/tree"
(cd "$ort_staging/tree" && "$JAVA_HOME/bin/jar" --extract --file "$ort_jar")
find "$ort_staging/tree/ai/onnxruntime/native" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
"$JAVA_HOME/bin/jar" --create --file "$bundle/lib/$(basename "$ort_jar" .jar)-linux-x64.jar" -C "$ort_staging/tree" .
rm -rf "$ort_staging"
# The launcher holds its own copy of the JUnit platform; two copies on one class path clash.
rm -f "$bundle"/lib/junit-*.jar "$bundle"/lib/opentest4j-*.jar "$bundle"/lib/apiguardian-*.jar

# java.xml is for the JUnit launcher's XML reports; java.desktop and java.sql, which jdeps also names, are
# optional for Jackson and unused here. An
# uncompressed image packs far smaller into xz than jlink's own zip compression.
jre_staging=$(mktemp -d)
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.xml,jdk.unsupported \
  --strip-debug --no-man-pages --no-header-files \
  --output "$jre_staging/jre"
XZ_OPT=-T0 tar -C "$jre_staging" -cJf "$bundle/jre.tar.xz" jre
rm -rf "$jre_staging"

dnnl_root=$(dirname "$(find target/dnnl -name libdnnl.so.3 | head -1)")
XZ_OPT=-T0 tar -C "$dnnl_root" -cJf "$bundle/onednn.tar.xz" include libdnnl.so.3 libgomp.so.1
cp target/classes/org/odconv/native/linux-x86_64/natives.sha256 "$bundle/natives-built-here.sha256"
du -sh "$bundle" "$bundle"/*
total_kib=$(du -sk "$bundle" | cut -f1)
if (( total_kib > 60 * 1024 )); then
  echo "gpu-bundle: $bundle is ${total_kib} KiB, over the 60 MB the check may carry" >&2
  exit 1
fi
