#!/usr/bin/env bash
# Regenerates the Java bindings in bindings/java from native/include/odconv.h with jextract
# (https://jdk.java.net/jextract/, version 22 or newer). The generated files are committed and never
# edited by hand; BindingsDriftTest fails the build when they no longer match the header or the library.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v jextract >/dev/null 2>&1; then
  echo "jextract is not on PATH; install it from https://jdk.java.net/jextract/ and run again, or, when no" >&2
  echo "struct changed, run bindings/jextract_shape.py, which writes the header classes in jextract's shape." >&2
  exit 1
fi
rm -rf bindings/java/org/odconv/bindings
# No --library: NativeLibrary loads libodconv.so.1 (from -Dodconv.library.path or the jar) with System.load,
# so the generated SymbolLookup.loaderLookup() finds it. One header class per header: odconv_h for the product
# ABI (with the struct classes), odconv_tools_h for the tools' entry points.
jextract \
  --output bindings/java \
  --target-package org.odconv.bindings \
  --header-class-name odconv_h \
  @bindings/includes.txt \
  native/include/odconv.h
jextract \
  --output bindings/java \
  --target-package org.odconv.bindings \
  --header-class-name odconv_tools_h \
  @bindings/includes-tools.txt \
  native/include/odconv_tools.h
