package org.odconv;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend against the Java reference over random configurations, batches 1 to 5 and odd sizes
 * (RandomConfigurationTest's generator), from TestData.seed's fixed seed.
 */
class CudaRandomConfigurationTest {
    private static final int CONFIGURATIONS = Integer.getInteger("odconv.test.cuda.configurations", 200);
    private static final Path LOG = Path.of("target", "cuda-random-configurations.log");
    private static Device gpu;

    @BeforeAll
    static void requireGpu() {
        gpu = CudaTests.requireGpu();
    }

    @Test
    void cudaMatchesReferenceOnRandomConfigurations() {
        long seed = TestData.seed("CudaRandomConfigurationTest");
        RandomConfigurationTest.log(LOG, "seed " + seed, false);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < CONFIGURATIONS; i++) {
            var c = RandomConfigurationTest.RandomCase.draw(random, "seed " + seed + ", configuration " + i, 5);
            RandomConfigurationTest.log(LOG, c.description(), true);
            try (Arena arena = Arena.ofConfined();
                 ODConv2d layer = ODConv2d.create(ODConv2dWeights.copyOf(c.config(), c.values(), arena), gpu);
                 Tensor nchw = Tensor.copyOf(c.input(), c.n(), c.config().inPlanes(), c.h(), c.w());
                 Tensor x = nchw.toLayout(c.layout());
                 DeviceTensor deviceInput = DeviceTensor.copyOf(x, gpu);
                 DeviceTensor deviceOutput = layer.forward(deviceInput);
                 Tensor y = deviceOutput.toTensor();
                 Tensor result = y.toLayout(Layout.NCHW)) {
                Comparison.assertClose(c.expected(), result.toArray(), c.description() + " on " + gpu);
            }
        }
    }
}
