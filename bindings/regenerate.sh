#!/usr/bin/env bash
# Regenerates the Java bindings in bindings/java from native/include/odconv.h with jextract
# (https://jdk.java.net/jextract/, version 22 or newer). The generated files are committed and never
# edited by hand; BindingsDriftTest fails the build when they no longer match the header or the library.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v jextract >/dev/null 2>&1; then
  echo "jextract is not on PATH; install it from https://jdk.java.net/jextract/ and run again." >&2
  exit 1
fi
rm -rf bindings/java/org/odconv/bindings
# No --library: NativeLibrary loads libodconv.so (from -Dodconv.library.path or the jar) with System.load,
# so the generated SymbolLookup.loaderLookup() finds it.
jextract \
  --output bindings/java \
  --target-package org.odconv.bindings \
  --header-class-name odconv_h \
  @bindings/includes.txt \
  native/include/odconv.h
