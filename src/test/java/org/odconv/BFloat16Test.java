package org.odconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.odconv.io.SafeTensors;

/**
 * bfloat16 layers on every device: within the documented bound of PyTorch's float32 output where the device
 * computes in bfloat16, refused by name where it cannot. (The refusal runs on every machine in
 * cli.PrecisionCommandTest, whose JVM limits oneDNN to AVX2.)
 */
class BFloat16Test {
    private static final LayerOptions BF16 = LayerOptions.DEFAULT.withPrecision(Precision.BF16);
    private static final int RANDOM_CONFIGURATIONS = Integer.getInteger("odconv.test.bf16.configurations", 200);

    @Test
    void labelsParseAndBadOnesAreNamed() {
        assertEquals(Precision.BF16, Precision.parse("BF16"));
        assertEquals(Precision.F32, Precision.parse("f32"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("fp16"));
        assertEquals("precision 'fp16' is not one of f32, bf16", e.getMessage());
        assertTrue(Device.cpu().unsupportedReason(Precision.F32).isEmpty(), "every CPU computes in float32");
    }

    @OnEachDevice
    void refusedByNameWhereUnavailable(Device device) {
        Optional<String> reason = device.unsupportedReason(Precision.BF16);
        assumeTrue(reason.isPresent(), device + " computes in bfloat16");
        if (!device.isCuda()) {
            assertTrue(reason.get().contains("AVX512-BF16") && reason.get().contains(Odconv.cpuIsa()),
                    "the reason names the instructions wanted and found: " + reason.get());
        }
        ODConv2dConfig config = ODConv2dConfig.builder(8, 8, 3).build();
        try (Arena arena = Arena.ofConfined()) {
            ODConv2dWeights weights = ODConv2dWeights.copyOf(config,
                    TestData.parameters(config, new SplittableRandom(1)), arena);
            PrecisionUnavailableException e = assertThrows(PrecisionUnavailableException.class,
                    () -> ODConv2d.create(weights, BF16.onDevice(device)));
            assertEquals(device + " cannot compute in bf16: " + reason.get(), e.getMessage());
            assertEquals(Precision.BF16, e.precision());
            assertEquals(device, e.device());
            MemorySegment weight = weights.segments().get(Parameter.WEIGHT);
            assertThrows(PrecisionUnavailableException.class, () -> StaticConvolution.create(config, weight, null, 1,
                    5, 5, Layout.NCHW, 0, BF16.onDevice(device)));
        }
    }

    static Stream<Arguments> goldenCasesOnEachDevice() throws IOException {
        return TestDevices.crossedWith(GoldenFiles.cases());
    }

    /** Every PyTorch golden case, both layouts, within the bfloat16 bound, and not float32 in disguise. */
    @ParameterizedTest
    @MethodSource("goldenCasesOnEachDevice")
    @Tag(TestDevices.TAG)
    void goldenCasesWithinTheBound(Device device, Path dir) {
        TestDevices.assumeComputesIn(device, Precision.BF16);
        for (Layout layout : Layout.values()) {
            try (ODConvModel model = ODConvModel.load(dir.resolve("model.safetensors"), BF16.onDevice(device));
                 SafeTensors input = SafeTensors.open(dir.resolve("input.safetensors"));
                 SafeTensors expected = SafeTensors.open(dir.resolve("expected.safetensors"));
                 Tensor x = Tensor.from(input, "input").toLayout(layout);
                 Tensor y = TestDevices.forward(model, x);
                 Tensor got = y.toLayout(Layout.NCHW)) {
                double[] want = Comparison.toDouble(Tensor.from(expected, "output").toArray());
                String what = dir.getFileName() + " (" + device + ", " + layout + ", bf16)";
                Comparison.assertClose(want, got.toArray(), what, Precision.BF16);
                assertTrue(Comparison.relativeError(want, got.toArray(), what) > 1e-6,
                        what + ": as close to float32 as float32 itself: not computed in bfloat16");
            }
        }
    }

    /** Random configurations (TestData's seed, printed) against the Java reference, within the bfloat16 bound. */
    @OnEachDevice
    void randomConfigurationsWithinTheBound(Device device) {
        TestDevices.assumeComputesIn(device, Precision.BF16);
        long seed = TestData.seed("BFloat16Test on " + device);
        SplittableRandom random = new SplittableRandom(seed);
        double worst = 0;
        for (int i = 0; i < RANDOM_CONFIGURATIONS; i++) {
            RandomConfigurationTest.RandomCase c = RandomConfigurationTest.RandomCase.draw(random,
                    "seed " + seed + ", configuration " + i);
            try (Arena arena = Arena.ofConfined();
                 ODConv2d layer = ODConv2d.create(ODConv2dWeights.copyOf(c.config(), c.values(), arena), BF16.onDevice(device));
                 Tensor nchw = Tensor.copyOf(c.input(), c.n(), c.config().inPlanes(), c.h(), c.w());
                 Tensor x = nchw.toLayout(c.layout());
                 Tensor y = TestDevices.forward(layer, x);
                 Tensor result = y.toLayout(Layout.NCHW)) {
                float[] got = result.toArray();
                Comparison.assertClose(c.expected(), got, c.description() + " on " + device, Precision.BF16);
                worst = Math.max(worst, Comparison.relativeError(c.expected(), got, c.description()));
            }
        }
        System.out.printf("bf16 on %s: worst error %.3g of the output's scale over %d random configurations (bound %.0e)%n",
                device, worst, RANDOM_CONFIGURATIONS, Precision.BF16.errorBound());
    }

    /**
     * A bfloat16 static convolution (the floor of bfloat16 benchmarks) computes what a float32 one does, within the
     * bound. On the CPU: the devices that compute in bfloat16.
     */
    @Test
    void staticConvolutionInBfloat16() {
        Device device = Device.cpu();
        TestDevices.assumeComputesIn(device, Precision.BF16);
        ODConv2dConfig config = ODConv2dConfig.builder(32, 48, 3).build();
        SplittableRandom random = new SplittableRandom(7);
        try (Arena arena = Arena.ofConfined()) {
            float[] w = TestData.values(48 * 32 * 9, random), x = TestData.values(2 * 32 * 12 * 12, random);
            MemorySegment weight = arena.allocateFrom(ValueLayout.JAVA_FLOAT, w);
            float[][] outputs = new float[2][];
            for (Precision precision : Precision.values()) {
                LayerOptions options = LayerOptions.DEFAULT.onDevice(device).withPrecision(precision);
                try (StaticConvolution conv = StaticConvolution.create(config, weight, null, 2, 12, 12, Layout.NCHW, 0, options);
                     Tensor input = Tensor.copyOf(x, 2, 32, 12, 12);
                     Tensor output = Tensor.allocate(2, 48, 12, 12)) {
                    conv.forward(input, output);
                    outputs[precision.ordinal()] = output.toArray();
                }
            }
            Comparison.assertClose(Comparison.toDouble(outputs[0]), outputs[1], "static convolution", Precision.BF16);
        }
    }
}
