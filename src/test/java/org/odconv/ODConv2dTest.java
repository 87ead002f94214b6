package org.odconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The Java API's contract: validation, shapes, lifecycle, threads. */
class ODConv2dTest {
    private static final ODConv2dConfig CONFIG = ODConv2dConfig.builder(16, 24, 3).kernelNum(2).build();

    @Test
    void configDefaultsAreTheSeeds() {
        ODConv2dConfig c = ODConv2dConfig.builder(64, 64, 3).build();
        assertEquals(1, c.stride());
        assertEquals(1, c.padding());
        assertEquals(1, c.dilation());
        assertEquals(1, c.groups());
        assertEquals(0.0625, c.reduction());
        assertEquals(1, c.kernelNum());
        assertEquals(16, c.minChannel());
        assertEquals(1.0f, c.temperature());
        assertEquals(Activation.SILU, c.activation());
        assertTrue(c.batchNorm());
        assertEquals(1e-5f, c.bnEps());
        assertEquals(1e-5f, c.attentionBnEps());
        assertEquals(16, c.attentionChannels());
        assertEquals(32, ODConv2dConfig.builder(512, 512, 3).build().attentionChannels());
        assertEquals(17, ODConv2dConfig.builder(70, 70, 3).reduction(0.25).build().attentionChannels());
    }

    @Test
    void invalidConfigsNameTheFieldAndValue() {
        var e = assertThrows(IllegalArgumentException.class, () -> ODConv2dConfig.builder(16, 24, 3).groups(5).build());
        assertEquals("groups = 5 does not divide inPlanes = 16", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ODConv2dConfig.builder(16, 20, 3).groups(8).build());
        assertEquals("groups = 8 does not divide outPlanes = 20", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ODConv2dConfig.builder(0, 24, 3).build());
        assertTrue(e.getMessage().startsWith("inPlanes = 0 is out of range"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ODConv2dConfig.builder(16, 24, 3).temperature(0).build());
        assertEquals("temperature = 0 must be finite and > 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ODConv2dConfig.builder(16, 24, 3).bnEps(Float.NaN).build());
        assertEquals("bnEps = nan must be finite and > 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ODConv2dConfig.builder(16, 24, 3).padding(-1).build());
        assertTrue(e.getMessage().startsWith("padding = -1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ODConv2dConfig.builder(16, 24, 3).padding(20000).build());
        assertEquals("padding = 20000 is wider than the dilated kernel (3 for kernelSize 3 and dilation 1)", e.getMessage());
        ODConv2dConfig.builder(16, 24, 3).padding(5).dilation(2).build();  // as wide as the dilated kernel: allowed
        assertDoesNotThrow(() -> ODConv2dConfig.builder(16, 24, 3).batchNorm(false).bnEps(0).build());
    }

    @Test
    void weightsMustMatchTheConfig() {
        Map<Parameter, float[]> values = TestData.parameters(CONFIG, 1);
        try (Arena arena = Arena.ofConfined()) {
            Map<Parameter, float[]> missing = new EnumMap<>(values);
            missing.remove(Parameter.SPATIAL_FC_BIAS);
            var e = assertThrows(IllegalArgumentException.class, () -> ODConv2dWeights.copyOf(CONFIG, missing, arena));
            assertEquals("parameter attention.spatial_fc.bias is missing", e.getMessage());

            Map<Parameter, float[]> wrongSize = new EnumMap<>(values);
            wrongSize.put(Parameter.BN_VAR, new float[23]);
            e = assertThrows(IllegalArgumentException.class, () -> ODConv2dWeights.copyOf(CONFIG, wrongSize, arena));
            assertEquals("parameter bn.running_var has 92 bytes, expected 96 (float32 [24])", e.getMessage());

            ODConv2dConfig depthwise = ODConv2dConfig.builder(8, 8, 3).groups(8).build();
            Map<Parameter, float[]> extra = TestData.parameters(depthwise, 2);
            extra.put(Parameter.FILTER_FC_BIAS, new float[8]);
            e = assertThrows(IllegalArgumentException.class, () -> ODConv2dWeights.copyOf(depthwise, extra, arena));
            assertTrue(e.getMessage().startsWith("parameter attention.filter_fc.bias is given but"), e.getMessage());
        }
    }

    @Test
    void forwardChecksShapes() {
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 3, arena));
             Tensor wrongChannels = Tensor.allocate(1, 8, 5, 5);
             Tensor input = Tensor.allocate(2, 16, 5, 7);
             Tensor wrongOutput = Tensor.allocate(2, 24, 5, 6)) {
            var e = assertThrows(IllegalArgumentException.class, () -> layer.forward(wrongChannels));
            assertEquals("input has 8 channels, layer expects inPlanes = 16 (input shape [1, 8, 5, 5])", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> layer.forward(input, wrongOutput));
            assertEquals("output shape [2, 24, 5, 6] does not match [2, 24, 5, 7] for input [2, 16, 5, 7]", e.getMessage());
            assertArrayEquals(new long[] {2, 24, 5, 7}, layer.outputShape(2, 5, 7));
        }
        ODConv2dConfig unpadded = CONFIG.toBuilder().padding(0).dilation(2).build();
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(unpadded, 4, arena));
             Tensor small = Tensor.allocate(1, 16, 4, 9)) {
            var e = assertThrows(IllegalArgumentException.class, () -> layer.forward(small));
            assertEquals("input height = 4 is too small: with padding 0 it must be at least 5 for kernelSize 3 and"
                    + " dilation 2", e.getMessage());
        }
    }

    /** At DEBUG, the first forward of each input size says the native side plans for it; nothing more. */
    @Test
    void theFirstForwardOfEachSizeIsLoggedAtDebug() {
        try (LogCapture log = new LogCapture(); Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 3, arena));
             Tensor a = Tensor.allocate(1, 16, 5, 7); Tensor b = Tensor.allocate(2, 16, 5, 7);
             Tensor c = Tensor.allocate(1, 16, 9, 7)) {
            for (Tensor input : List.of(a, b, c, a)) layer.forward(input).close();
            assertEquals(List.of("FINE odconv: " + layer + ": first forward of input size 5x7 NCHW: planning",
                    "FINE odconv: " + layer + ": first forward of input size 9x7 NCHW: planning"), log.lines());
        }
    }

    /** An output past the configured element count is refused before anything is allocated. */
    @Test
    void outputsPastTheLimitAreRefusedBeforeAllocation() {
        String previous = System.getProperty(ODConv2d.MAX_OUTPUT_ELEMENTS_PROPERTY);
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 3, arena));
             Tensor input = Tensor.allocate(2, 16, 5, 7)) {
            System.setProperty(ODConv2d.MAX_OUTPUT_ELEMENTS_PROPERTY, Long.toString(2 * 24 * 5 * 7 - 1));
            var e = assertThrows(IllegalArgumentException.class, () -> layer.forward(input));
            assertEquals("the output [2, 24, 5, 7] for input [2, 16, 5, 7] would hold 1680 elements, more than the limit"
                    + " of 1679 (-Dodconv.max.output.elements)", e.getMessage());
            System.setProperty(ODConv2d.MAX_OUTPUT_ELEMENTS_PROPERTY, Long.toString(2 * 24 * 5 * 7));
            layer.forward(input).close();
        } finally {
            if (previous == null) System.clearProperty(ODConv2d.MAX_OUTPUT_ELEMENTS_PROPERTY);
            else System.setProperty(ODConv2d.MAX_OUTPUT_ELEMENTS_PROPERTY, previous);
        }
    }

    /** OpenMP takes any count, and libgomp took the JVM down creating 20,000 threads: counts are bounded. */
    @Test
    void threadCountsAreBoundedByTheProcessors() {
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 3, arena))) {
            int processors = Runtime.getRuntime().availableProcessors();
            layer.setNumThreads(4 * processors);
            var e = assertThrows(IllegalArgumentException.class, () -> layer.setNumThreads(20000));
            String message = e.getMessage();
            assertTrue(message.matches(".*num_threads = 20000 is more than (\\d+) \\(4 per processor this process may run"
                    + " on\\)"), message);
            int limit = Integer.parseInt(message.replaceAll(".*is more than (\\d+) .*", "$1"));
            assertTrue(limit >= 4 * processors && limit % 4 == 0, message);
            assertThrows(IllegalArgumentException.class, () -> layer.setNumThreads(limit + 1));
            layer.setNumThreads(limit);
            try (Tensor input = Tensor.allocate(1, 16, 5, 5)) {
                layer.setNumThreads(1);
                layer.forward(input).close();
            }
        }
    }

    @Test
    void forwardWritesEveryOutputElement() {
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 5, arena));
             Tensor input = TestData.tensor(6, 2, 16, 9, 11);
             Tensor output = Tensor.allocate(2, 24, 9, 11)) {
            output.segment().fill((byte) 0xFF);  // NaN everywhere
            layer.forward(input, output);
            for (float v : output.toArray()) assertFalse(Float.isNaN(v), "unwritten output element");
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() {
        try (Arena arena = Arena.ofConfined(); Tensor input = Tensor.allocate(1, 16, 4, 4)) {
            ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 7, arena));
            layer.close();
            layer.close();
            assertTrue(layer.isClosed());
            var e = assertThrows(IllegalStateException.class, () -> layer.forward(input));
            assertEquals("ODConv2d layer is closed", e.getMessage());
            assertThrows(IllegalStateException.class, () -> layer.setNumThreads(1));
        }
    }

    @Test
    void tensorContract() {
        Tensor t = Tensor.copyOf(new float[] {1, 2, 3, 4, 5, 6}, 1, 2, 1, 3);
        assertEquals(5f, t.get(0, 1, 0, 1));
        t.set(0, 0, 0, 2, 9f);
        assertArrayEquals(new float[] {1, 2, 9, 4, 5, 6}, t.toArray());
        assertThrows(IndexOutOfBoundsException.class, () -> t.get(0, 2, 0, 0));
        t.close();
        t.close();
        assertThrows(IllegalStateException.class, t::toArray);
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.copyOf(new float[5], 1, 2, 1, 3));
        assertEquals("values.length = 5 but shape [1, 2, 1, 3] holds 6", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(MemorySegment.ofArray(new float[6]), 1, 2, 1, 3));
        assertTrue(e.getMessage().startsWith("Tensor.wrap needs a native segment"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.allocate(1, 0, 1, 1));
        try (Arena arena = Arena.ofConfined()) {
            Tensor borrowed = Tensor.allocate(arena, 1, 1, 2, 2);
            MemorySegment memory = borrowed.segment();
            borrowed.close();
            assertTrue(memory.scope().isAlive(), "closing a borrowing tensor must not free its arena's memory");
        }
    }

    @Test
    void nhwcTensorsIndexChannelsLastAndConvertBothWays() {
        float[] nchw = new float[2 * 3 * 2 * 2];
        for (int i = 0; i < nchw.length; i++) nchw[i] = i;
        try (Tensor a = Tensor.copyOf(nchw, 2, 3, 2, 2);
             Tensor b = a.toLayout(Layout.NHWC);
             Tensor c = b.toLayout(Layout.NCHW)) {
            assertEquals(Layout.NHWC, b.layout());
            assertEquals(a.get(1, 2, 0, 1), b.get(1, 2, 0, 1));
            // memory order: (n, h, w, c); element (n=0, h=0, w=1, c=2) is at 1 * 3 + 2
            assertEquals(a.get(0, 2, 0, 1), b.toArray()[1 * 3 + 2]);
            assertArrayEquals(nchw, c.toArray());
        }
    }

    @Test
    void nhwcForwardEqualsNchwForward() {
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 11, arena));
             Tensor nchw = TestData.tensor(12, 3, 16, 7, 9);
             Tensor nhwc = nchw.toLayout(Layout.NHWC);
             Tensor expected = layer.forward(nchw);
             Tensor actual = layer.forward(nhwc);
             Tensor actualNchw = actual.toLayout(Layout.NCHW);
             Tensor mixedOutput = Tensor.allocate(3, 24, 7, 9, Layout.NCHW)) {
            assertEquals(Layout.NHWC, actual.layout());
            Comparison.assertClose(Comparison.toDouble(expected.toArray()), actualNchw.toArray(), "NHWC vs NCHW");
            var e = assertThrows(IllegalArgumentException.class, () -> layer.forward(nhwc, mixedOutput));
            assertEquals("input is NHWC but output is NCHW; both must have the same layout", e.getMessage());
        }
    }

    /** odconv.h states the version; pom.xml must say the same (with -SNAPSHOT before a release). */
    @Test
    void libraryReportsItsVersionAndBackend() throws java.io.IOException {
        java.util.regex.Matcher pom = java.util.regex.Pattern
                .compile("<artifactId>odconv</artifactId>\\s*<version>([^<]+)</version>")
                .matcher(java.nio.file.Files.readString(java.nio.file.Path.of("pom.xml")));
        assertTrue(pom.find(), "pom.xml's project version");
        assertEquals(pom.group(1).replace("-SNAPSHOT", ""), Odconv.version(), "pom.xml against odconv.h");
        assertTrue(Odconv.backend().startsWith("oneDNN 3."), Odconv.backend());
    }

    /** forward(in, out) allocates nothing on the Java heap once a size has been seen (what a server's loop needs). */
    @Test
    void steadyStateForwardsAllocateNothingOnTheHeap() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(CONFIG, 3, arena));
             Tensor input = TestData.tensor(4, 1, 16, 6, 6);
             Tensor output = Tensor.allocate(1, 24, 6, 6)) {
            for (int i = 0; i < 2000; i++) layer.forward(input, output);  // the JIT compiles the path
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 1000; i++) layer.forward(input, output);
            long perForward = (threads.getCurrentThreadAllocatedBytes() - before) / 1000;
            assertEquals(0, perForward, "bytes allocated per forward");
        }
    }
}
