package org.odconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import org.odconv.io.SafeTensors;

/** The CUDA backend against the outputs PyTorch computed (GoldenTest's cases), in both layouts. */
class CudaGoldenTest {
    private static Device gpu;

    @BeforeAll
    static void requireGpu() {
        gpu = CudaTests.requireGpu();
    }

    static List<Path> cases() throws IOException {
        return GoldenFiles.cases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void cudaForwardMatchesPyTorch(Path dir) {
        for (Layout layout : Layout.values()) {
            try (ODConvModel model = ODConvModel.load(dir.resolve("model.safetensors"), LayerOptions.DEFAULT.onDevice(gpu));
                 SafeTensors input = SafeTensors.open(dir.resolve("input.safetensors"));
                 SafeTensors expected = SafeTensors.open(dir.resolve("expected.safetensors"));
                 Tensor x = input.tensor("input").toLayout(layout);
                 DeviceTensor deviceInput = DeviceTensor.copyOf(x, gpu);
                 DeviceTensor deviceOutput = model.forward(deviceInput);
                 Tensor y = deviceOutput.toTensor();
                 Tensor got = y.toLayout(Layout.NCHW)) {
                Tensor want = expected.tensor("output");
                assertArrayEquals(want.shape(), got.shape(), dir + ": output shape");
                Comparison.assertClose(Comparison.toDouble(want.toArray()), got.toArray(),
                        dir.getFileName() + " (" + gpu + ", " + layout + ")");
            }
        }
    }
}
