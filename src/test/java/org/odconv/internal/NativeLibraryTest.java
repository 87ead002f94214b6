package org.odconv.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import org.junit.jupiter.api.Test;
import org.odconv.Device;

class NativeLibraryTest {
    /**
     * cuDNN crashes a process whose libstdc++ is private to a dlopen'd libodconv.so (see
     * NativeLibrary.loadCppRuntimeGlobally); the loader must leave the C++ runtime in the global scope, where
     * dlsym(RTLD_DEFAULT, ...) finds it. Without the loader's dlopen this lookup returns NULL in a JVM.
     */
    @Test
    void theCppRuntimeIsGlobalOnceTheLibraryIsLoaded() throws Throwable {
        NativeLibrary.load();
        Linker linker = Linker.nativeLinker();
        MethodHandle dlsym = linker.downcallHandle(linker.defaultLookup().find("dlsym").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            // std::call_once's trampoline, the libstdc++ entry point cuDNN's first call_once goes through.
            MemorySegment onceProxy = (MemorySegment) dlsym.invokeExact(MemorySegment.NULL /* RTLD_DEFAULT */,
                    arena.allocateFrom("__once_proxy"));
            assertNotEquals(MemorySegment.NULL, onceProxy,
                    NativeLibrary.CPP_RUNTIME + " is not in the global scope after NativeLibrary.load()");
        }
    }

    /**
     * The native library refuses CUDA, naming libstdc++, where the C++ runtime is not global (it would crash
     * in cuDNN otherwise); after the loader's dlopen that refusal must never be the reason, with or without
     * a GPU here.
     */
    @Test
    void cudaIsNeverRefusedForTheCppRuntime() {
        NativeLibrary.load();
        Device.cudaUnavailableReason().ifPresent(reason -> assertFalse(reason.contains(NativeLibrary.CPP_RUNTIME),
                "CUDA refused for the C++ runtime: " + reason));
    }
}
