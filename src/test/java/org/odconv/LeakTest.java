package org.odconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import org.odconv.io.SafeTensors;

/**
 * Native memory stays flat over many forwards and many load/close cycles. Counts come from glibc's own
 * allocator statistics (mallinfo2: bytes in use, mmapped chunks included) and /proc/self/maps, not from RSS,
 * which the JVM's heap moves about. The CI run is short; -Dodconv.soak=true runs 100,000 forwards and
 * 1,000 cycles.
 */
class LeakTest {
    private static final boolean SOAK = Boolean.getBoolean("odconv.soak");
    private static final int FORWARDS = SOAK ? 100_000 : 20_000;
    private static final int CYCLES = SOAK ? 5_000 : 1_000;
    /**
     * The JVM mallocs too (GC, JIT, Cleaners), so each measurement is noisy by up to megabytes, both ways.
     * A leak, though, grows every round alike: the median of several rounds must stay under this.
     */
    private static final long SLACK_BYTES = 1024 * 1024;  // about 50 bytes per forward
    /**
     * A load/close cycle maps a file, creates layers and their oneDNN primitives and frees them all again, and
     * the JVM's own churn over a round of them reaches a few megabytes (medians up to 0.9 MB over 200 cycles
     * were seen with and without this project's latest changes). So the cycles get a wider bound over more
     * cycles: 4 KB per cycle, still far below one layer's allocations.
     */
    private static final long CYCLE_SLACK_BYTES = 4L * 1024 * 1024;
    private static final int ROUNDS = 5;

    private static final MethodHandle MALLINFO2 = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("mallinfo2").orElseThrow(),
            FunctionDescriptor.of(MemoryLayout.structLayout(MemoryLayout.sequenceLayout(10, ValueLayout.JAVA_LONG))));

    /** uordblks + hblkhd: bytes allocated by malloc and in use, including large mmapped chunks. */
    private static long nativeBytesInUse() {
        System.gc();  // Cleaners and GC bookkeeping settle first: the JVM mallocs too
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = (MemorySegment) MALLINFO2.invokeExact((java.lang.foreign.SegmentAllocator) arena);
            return info.getAtIndex(ValueLayout.JAVA_LONG, 7) + info.getAtIndex(ValueLayout.JAVA_LONG, 4);
        } catch (Throwable e) {
            throw new AssertionError(e);
        }
    }

    /** Runs `action` `count` times per round; the median over the rounds of native memory growth. */
    private static long medianGrowth(String what, int count, Runnable action) {
        long[] growth = new long[ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
            long before = nativeBytesInUse();
            for (int i = 0; i < count; i++) action.run();
            growth[round] = nativeBytesInUse() - before;
        }
        System.out.printf("LeakTest: native bytes in use after rounds of %d %s grew by %s%n", count, what,
                java.util.Arrays.toString(growth));
        java.util.Arrays.sort(growth);
        return growth[ROUNDS / 2];
    }

    private static long mappingsOf(Path file) throws IOException {
        String name = file.toAbsolutePath().toString();
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.endsWith(name)).count();
    }

    @Test
    void forwardsKeepNativeMemoryFlat() {
        Path dir = GoldenFiles.root().resolve("chain3");
        try (ODConvModel model = ODConvModel.load(dir.resolve("model.safetensors"));
             SafeTensors inputs = SafeTensors.open(dir.resolve("input.safetensors"))) {
            Tensor input = Tensor.from(inputs, "input");
            ODConv2d first = model.layers().getFirst().conv();
            try (Tensor reference = first.forward(input);
                 Tensor firstOut = Tensor.allocate(reference.batch(), reference.channels(), reference.height(),
                         reference.width())) {
                for (int i = 0; i < 200; i++) first.forward(input, firstOut);  // plans and workspaces exist now
                long grown = medianGrowth("forwards", FORWARDS, () -> first.forward(input, firstOut));
                assertTrue(grown < SLACK_BYTES, FORWARDS + " forwards grew native memory by " + grown + " bytes");
                assertArrayEquals(reference.toArray(), firstOut.toArray(), "the last forward equals the first");
            }
        }
    }

    @Test
    void loadCloseCyclesKeepNativeMemoryFlatAndUnmapTheFile() throws IOException {
        Path dir = GoldenFiles.root().resolve("chain3");
        Path modelFile = dir.resolve("model.safetensors");
        try (SafeTensors inputs = SafeTensors.open(dir.resolve("input.safetensors"))) {
            Tensor input = Tensor.from(inputs, "input");
            Runnable cycle = () -> {
                try (ODConvModel model = ODConvModel.load(modelFile); Tensor out = model.forward(input)) {
                    assertEquals(24, out.channels());
                }
            };
            for (int i = 0; i < 200; i++) cycle.run();
            long grown = medianGrowth("load/forward/close cycles", CYCLES, cycle);
            assertTrue(grown < CYCLE_SLACK_BYTES, CYCLES + " cycles grew native memory by " + grown + " bytes");
            assertEquals(0, mappingsOf(modelFile), "a closed model's file is still mapped");
        }
    }
}
