package org.odconv;

import java.nio.file.Path;

import org.odconv.bindings.odconv_h;
import org.odconv.internal.NativeLibrary;
import org.odconv.internal.CStrings;

/** Facts about the loaded native library. Each call loads it first if needed. */
public final class Odconv {
    private Odconv() {}

    /** The native library's version, "major.minor.patch". */
    public static String version() {
        Natives.load();
        return NativeLibrary.versionString(odconv_h.odconv_version());
    }

    /** The compute backend, e.g. "oneDNN 3.13.0 (cpu runtime: OpenMP)". */
    public static String backend() {
        Natives.load();
        return CStrings.read(odconv_h.odconv_backend_description());
    }

    /** The instruction set oneDNN uses on this CPU, e.g. "avx512_core". */
    public static String cpuIsa() {
        Natives.load();
        return CStrings.read(odconv_h.odconv_cpu_isa());
    }

    /** The folder libodconv.so was loaded from. */
    public static Path libraryFolder() {
        return Natives.load();
    }
}
