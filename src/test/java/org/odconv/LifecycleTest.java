package org.odconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.io.SafeTensors;

/** Wrong use and heavy use: closing under load, freed memory, many threads, NaN and Inf. */
class LifecycleTest {
    private static final ODConv2dConfig CONFIG = ODConv2dConfig.builder(16, 16, 3).kernelNum(3).build();

    /** Forwards from many threads at once on one layer: each thread's results equal one thread's, bit for bit. */
    @OnEachDevice
    void eightThreadsTimesAThousandForwardsAreBitIdenticalToOne(Device device) throws Exception {
        try (Arena arena = Arena.ofShared();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 1, arena), device);
             Tensor input = TestData.tensor(2, 2, 16, 10, 10);
             Tensor single = TestDevices.forward(layer, input)) {
            float[] expected = single.toArray();
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<Integer>> results = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    results.add(pool.submit(() -> {
                        int mismatches = 0;
                        for (int i = 0; i < 1000; i++) {
                            try (Tensor out = TestDevices.forward(layer, input)) {
                                if (!Arrays.equals(expected, out.toArray())) mismatches++;
                            }
                        }
                        return mismatches;
                    }));
                }
                for (Future<Integer> r : results) assertEquals(0, r.get(), "forwards differing from one thread's");
            } finally {
                pool.shutdown();
            }
        }
    }

    /** Native code writing read-only memory would take the JVM down (SIGSEGV): refused before it is called. */
    @Test
    void readOnlyOutputsAreRefused(@TempDir Path dir) throws Exception {
        try (Arena arena = Arena.ofShared(); Tensor input = TestData.tensor(5, 1, 16, 8, 8)) {
            ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 4, arena));
            long bytes = 4L * 16 * 8 * 8;
            Tensor readOnly = Tensor.wrap(arena.allocate(bytes, 64).asReadOnly(), 1, 16, 8, 8);
            var e = assertThrows(IllegalArgumentException.class, () -> layer.forward(input, readOnly));
            assertEquals("the output " + readOnly + " is read-only memory (a READ_ONLY file mapping, or a segment made"
                    + " asReadOnly()), which cannot be written", e.getMessage());
            Path file = Files.write(dir.resolve("out.bin"), new byte[(int) bytes]);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                Tensor mapped = Tensor.wrap(channel.map(FileChannel.MapMode.READ_ONLY, 0, bytes, arena), 1, 16, 8, 8);
                assertThrows(IllegalArgumentException.class, () -> layer.forward(input, mapped));
            }
            try (DeviceTensor host = DeviceTensor.copyOf(input, Device.cpu())) {
                Tensor readOnlyInput = Tensor.wrap(arena.allocate(4L * 16 * 8 * 8, 64).asReadOnly(), 1, 16, 8, 8);
                assertThrows(IllegalArgumentException.class, () -> host.copyTo(readOnlyInput));
            }
            layer.close();
        }
    }

    /**
     * A safetensors file closed while a forward reads a tensor of it: the close is refused, saying why, and a later
     * close unmaps the file (it stayed mapped for good before: the first close had marked it closed).
     */
    @Test
    @Timeout(120)
    void closingAMappedFileDuringAForwardOnItFailsAndALaterCloseUnmapsIt(@TempDir Path dir) throws Exception {
        ODConv2dConfig big = ODConv2dConfig.builder(64, 64, 3).kernelNum(4).build();
        Path path = dir.resolve("input.safetensors");
        try (Tensor written = TestData.tensor(12, 32, 64, 160, 160)) {  // about a second of forward on two cores
            Tensor.writeSafeTensors(path, Map.of("x", written), Map.of());
        }
        try (Arena arena = Arena.ofShared(); ODConv2d layer = ODConv2d.create(TestData.weights(big, 13, arena));
             Tensor output = Tensor.allocate(32, 64, 160, 160)) {
            SafeTensors file = SafeTensors.open(path);
            Tensor input = Tensor.from(file, "x");
            IllegalStateException refused = refusedCloseDuringForward(layer, input, output, file::close);
            assertEquals(path + " is in use by a native call reading one of its tensors (a forward or a copy); close"
                    + " it again once that returns", refused.getMessage());
            assertTrue(input.segment().scope().isAlive(), "still mapped, for the forward");
            file.close();
            assertFalse(input.segment().scope().isAlive(), "unmapped by the second close");
        }
    }

    /**
     * The static convolution (the benchmarks' floor) refuses read-only outputs as layers do: its native code
     * writing one took the JVM down (SIGSEGV).
     */
    @Test
    void staticConvolutionRefusesReadOnlyOutputs() {
        try (Arena arena = Arena.ofShared(); Tensor input = TestData.tensor(7, 1, 16, 8, 8);
             StaticConvolution conv = staticConvolution(arena, 8, 8)) {
            Tensor readOnly = Tensor.wrap(arena.allocate(4L * 16 * 8 * 8, 64).asReadOnly(), 1, 16, 8, 8);
            var e = assertThrows(IllegalArgumentException.class, () -> conv.forward(input, readOnly));
            assertEquals("the output " + readOnly + " is read-only memory (a READ_ONLY file mapping, or a segment made"
                    + " asReadOnly()), which cannot be written", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> conv.benchmark(input, readOnly, 1));
        }
    }

    /**
     * Runs from several threads on one static convolution take turns: the native convolution points its buffers at
     * each run's tensors, and concurrent runs wrote into each other's outputs (and into freed memory).
     */
    @Test
    @Timeout(120)
    void staticConvolutionRunsFromManyThreadsEachGetTheirOwnResult() throws Exception {
        try (Arena arena = Arena.ofShared(); StaticConvolution conv = staticConvolution(arena, 32, 32)) {
            Tensor[] inputs = {TestData.tensor(8, 1, 16, 32, 32), TestData.tensor(9, 1, 16, 32, 32)};
            float[][] expected = new float[2][];
            for (int i = 0; i < 2; i++) {
                try (Tensor out = Tensor.allocate(1, 16, 32, 32)) {
                    conv.forward(inputs[i], out);
                    expected[i] = out.toArray();
                }
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Integer>> results = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int which = t % 2;
                    results.add(pool.submit(() -> {
                        int mismatches = 0;
                        for (int i = 0; i < 200; i++) {
                            try (Tensor out = Tensor.allocate(1, 16, 32, 32)) {
                                conv.forward(inputs[which], out);
                                if (!Arrays.equals(expected[which], out.toArray())) mismatches++;
                            }
                        }
                        return mismatches;
                    }));
                }
                for (Future<Integer> r : results) assertEquals(0, r.get(), "runs with another run's output");
            } finally {
                pool.shutdown();
                for (Tensor input : inputs) input.close();
            }
        }
    }

    /**
     * Runs {@code close} 100 ms into a forward (of about a second) on another thread, waits for the forward, and
     * returns the IllegalStateException the close threw; aborts the test as inconclusive where the timing did not
     * put the close inside the forward.
     */
    private static IllegalStateException refusedCloseDuringForward(ODConv2d layer, Tensor input, Tensor output,
            Runnable close) throws Exception {
        CountDownLatch starting = new CountDownLatch(1);
        ExecutorService thread = Executors.newSingleThreadExecutor();
        Future<?> forward = thread.submit(() -> {
            starting.countDown();
            layer.forward(input, output);
        });
        starting.await();
        Thread.sleep(100);
        IllegalStateException refused = null;
        try {
            close.run();
        } catch (IllegalStateException e) {
            refused = e;
        }
        try {
            forward.get(100, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Assumptions.abort("inconclusive: the close came before the forward took the memory (" + e.getCause() + ")");
        } finally {
            thread.shutdown();
        }
        Assumptions.assumeTrue(refused != null, "inconclusive: the forward ended within 100 ms");
        return refused;
    }

    /** A 16-channel 3x3 static convolution with weights of a fixed seed, single-threaded, for height x width inputs. */
    private static StaticConvolution staticConvolution(Arena arena, int height, int width) {
        ODConv2dConfig config = ODConv2dConfig.builder(16, 16, 3).build();
        MemorySegment weight = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT,
                TestData.values(16 * 16 * 9, 10));
        return StaticConvolution.create(config, weight, null, 1, height, width, Layout.NCHW, 1);
    }

    /**
     * Another thread closing the weights' shared arena while a layer is created from them: creation succeeds or
     * throws IllegalStateException. The native side read them through raw addresses, freed under it: SIGSEGV
     * within a few rounds before.
     */
    @Test
    @Timeout(120)
    void closingTheWeightsArenaDuringCreationFailsCleanly() throws Exception {
        ODConv2dConfig big = ODConv2dConfig.builder(512, 512, 3).kernelNum(4).build();  // 38 MB of kernel bank
        Map<Parameter, float[]> values = TestData.parameters(big, 11);
        for (int round = 0; round < 60; round++) {
            Arena arena = Arena.ofShared();
            ODConv2dWeights weights = ODConv2dWeights.copyOf(big, values, arena);
            long delayNanos = (round % 20) * 500_000L;
            Thread closer = new Thread(() -> {
                long start = System.nanoTime();
                while (System.nanoTime() - start < delayNanos) Thread.onSpinWait();
                arena.close();
            });
            closer.start();
            try (ODConv2d layer = ODConv2d.create(weights)) {
                assertFalse(layer.isClosed());
            } catch (IllegalStateException e) {
                assertTrue(e.getMessage().startsWith("the memory of this layer's weights was freed"), e.getMessage());
            }
            closer.join();
        }
    }

    /** A tensor closed while a forward uses it stays open (no leak) and closes once the forward returns. */
    @Test
    @Timeout(120)
    void closingATensorDuringAForwardFailsAndALaterCloseFreesIt() throws Exception {
        ODConv2dConfig big = ODConv2dConfig.builder(64, 64, 3).kernelNum(4).build();
        try (Arena arena = Arena.ofShared()) {
            ODConv2d layer = ODConv2d.create(TestData.weights(big, 6, arena));
            Tensor input = TestData.tensor(6, 32, 64, 160, 160);  // about a second of forward on two cores
            Tensor output = Tensor.allocate(32, 64, 160, 160);
            IllegalStateException refused = refusedCloseDuringForward(layer, input, output, output::close);
            assertEquals(output + " is in use by a native call (a forward or a copy); close it once that returns",
                    refused.getMessage());
            assertFalse(output.isClosed(), "still open, so that the memory is not lost");
            output.close();
            assertTrue(output.isClosed());
            input.close();
            layer.close();
        }
    }

    @Test
    @Timeout(60)  // a close() starved by the forwards' read locks hangs here
    void closingDuringForwardsWaitsOrFailsCleanly() throws Exception {
        try (Arena arena = Arena.ofShared(); Tensor input = TestData.tensor(3, 1, 16, 24, 24)) {
            ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 4, arena));
            AtomicInteger completed = new AtomicInteger();
            CountDownLatch running = new CountDownLatch(4);
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<Throwable>> endings = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                endings.add(pool.submit(() -> {
                    try (Tensor out = Tensor.allocate(1, 16, 24, 24)) {
                        running.countDown();
                        while (true) {
                            layer.forward(input, out);
                            completed.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        return e;
                    }
                }));
            }
            running.await();
            Thread.sleep(50);
            layer.close();  // waits for the forwards in flight; later ones fail
            for (Future<Throwable> ending : endings) {
                Throwable e = ending.get(30, TimeUnit.SECONDS);
                assertTrue(e instanceof IllegalStateException, "ended with " + e);
                assertEquals("ODConv2d layer is closed", e.getMessage());
            }
            pool.shutdown();
            assertTrue(completed.get() > 0);
            assertThrows(IllegalStateException.class, () -> layer.forward(input));
        }
    }

    /**
     * A layer copies its weights when it is created (uploads them, on a GPU): their memory may go at once, a
     * file's mapping or an arena, and the layer runs on.
     */
    @OnEachDevice
    void aLayerNeedsNoneOfItsWeightsMemoryOnceCreated(Device device) {
        Path dir = GoldenFiles.root().resolve("kn3");
        ODConv2dConfig config;
        try (ODConvModel model = ODConvModel.load(dir.resolve("model.safetensors"))) {
            config = model.layer("model.0").config();
        }
        SafeTensors file = SafeTensors.open(dir.resolve("model.safetensors"));
        Map<Parameter, MemorySegment> views = new EnumMap<>(Parameter.class);
        for (Parameter p : Parameter.values()) {
            if (p.isPresent(config)) views.put(p, file.data(file.entry("model.0." + p.stateDictName())));
        }
        try (ODConv2d layer = ODConv2d.create(ODConv2dWeights.of(config, views, file), device);
             SafeTensors inputs = SafeTensors.open(dir.resolve("input.safetensors"));
             SafeTensors expected = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            file.close();
            assertFalse(views.get(Parameter.WEIGHT).scope().isAlive(), "unmapped as soon as the file closed");
            try (Tensor out = TestDevices.forward(layer, Tensor.from(inputs, "input"))) {
                Comparison.assertClose(Comparison.toDouble(Tensor.from(expected, "output").toArray()), out.toArray(),
                        "after the file was unmapped, on " + device);
            }
        }

        Arena arena = Arena.ofShared();
        ODConv2dWeights weights = TestData.weights(CONFIG, 5, arena);
        try (ODConv2d layer = ODConv2d.create(weights, device); Tensor input = TestData.tensor(6, 1, 16, 5, 5)) {
            float[] before;
            try (Tensor out = TestDevices.forward(layer, input)) {
                before = out.toArray();
            }
            arena.close();
            try (Tensor out = TestDevices.forward(layer, input)) {
                assertArrayEquals(before, out.toArray(), "the same after the weights' arena closed, on " + device);
            }
        }
        var e = assertThrows(IllegalStateException.class, () -> ODConv2d.create(weights, device));
        assertTrue(e.getMessage().startsWith("the memory of this layer's weights was freed"), e.getMessage());
    }

    /**
     * A model file changed under a loaded model, the usual hot swap (cp over it) or a truncation: the model reads
     * the file no more once loaded, so forwards go on (new input sizes, which plan anew, included) with the
     * same results. Before, native code read the mapping at each new input size and died of SIGBUS.
     */
    @Test
    void aModelFileChangedOrTruncatedAfterLoadingChangesNothing(@TempDir Path dir) throws Exception {
        Path golden = GoldenFiles.root().resolve("chain3");
        Path file = Files.copy(golden.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        try (ODConvModel model = ODConvModel.load(file);
             ODConvModel untouched = ODConvModel.load(golden.resolve("model.safetensors"));
             Tensor small = TestData.tensor(8, 1, 16, 12, 12)) {
            float[] expected;
            try (Tensor out = model.forward(small)) {
                expected = out.toArray();
            }
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.truncate(0);
            }
            try (Tensor out = model.forward(small)) {
                assertArrayEquals(expected, out.toArray(), "the size planned before the truncation");
            }
            assertForwardsAlike(untouched, model, TestData.tensor(9, 2, 16, 20, 18), "a size planned after the truncation");
            Files.copy(GoldenFiles.root().resolve("kn3/model.safetensors"), file, StandardCopyOption.REPLACE_EXISTING);
            assertForwardsAlike(untouched, model, TestData.tensor(8, 1, 16, 13, 11), "a size planned after the rewrite");
        }
    }

    /** Both models' outputs for {@code input} (which this closes) agree. */
    private static void assertForwardsAlike(ODConvModel expected, ODConvModel actual, Tensor input, String what) {
        try (input; Tensor want = expected.forward(input); Tensor got = actual.forward(input)) {
            Comparison.assertClose(Comparison.toDouble(want.toArray()), got.toArray(), what);
        }
    }

    @Test
    void nanAndInfinityPropagateAsInPyTorch() {
        Map<Parameter, float[]> values = TestData.parameters(CONFIG, 7);
        int n = 3, h = 6, w = 6;
        float[] data = TestData.values(n * 16 * h * w, 8);
        data[5] = Float.NaN;                                   // sample 0
        data[16 * h * w + 40] = Float.POSITIVE_INFINITY;      // sample 1
        double[] reference = ReferenceODConv.forward(CONFIG, values, data, n, h, w);
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(ODConv2dWeights.copyOf(CONFIG, values, arena));
             Tensor input = Tensor.copyOf(data, n, 16, h, w);
             Tensor output = layer.forward(input)) {
            float[] actual = output.toArray();
            int perSample = 16 * h * w;
            for (int i = 0; i < actual.length; i++) {
                assertEquals(Double.isNaN(reference[i]), Float.isNaN(actual[i]), "NaN at " + i);
                assertEquals(Double.isInfinite(reference[i]), Float.isInfinite(actual[i]), "Inf at " + i);
            }
            // the NaN in sample 0 reaches all of sample 0 (through the pooled attention) and nothing else
            for (int i = 0; i < perSample; i++) assertTrue(Float.isNaN(actual[i]));
            for (int i = 2 * perSample; i < 3 * perSample; i++) assertFalse(Float.isNaN(actual[i]) || Float.isInfinite(actual[i]));
            double[] clean = Arrays.copyOfRange(reference, 2 * perSample, 3 * perSample);
            Comparison.assertClose(clean, Arrays.copyOfRange(actual, 2 * perSample, 3 * perSample), "sample 2");
        }
    }

    /** A forward's result dropped unclosed is freed by the Cleaner backstop: its memory's arena ends. */
    @Test
    void anUnclosedForwardResultIsFreedOnceUnreachable() throws InterruptedException {
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 4, arena));
             Tensor input = TestData.tensor(5, 1, 16, 8, 8)) {
            MemorySegment dropped = droppedForwardResult(layer, input);
            for (int i = 0; i < 100 && dropped.scope().isAlive(); i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertFalse(dropped.scope().isAlive(), "the result's memory is still allocated");
        }
    }

    /** The memory of a forward result whose tensor is unreachable once this returns. */
    private static MemorySegment droppedForwardResult(ODConv2d layer, Tensor input) {
        return layer.forward(input).segment();
    }
}
