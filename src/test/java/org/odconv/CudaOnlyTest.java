package org.odconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What only CUDA has: TF32, asynchronous forwards on streams with pinned memory, and their wrong use: host
 * tensors, tensors and streams of another device, closed streams, closing under queued work. What every device
 * does is tested on each device (OnEachDevice) in the tests of that behaviour.
 */
@Tag(TestDevices.TAG)
class CudaOnlyTest {
    private static final ODConv2dConfig CONFIG = ODConv2dConfig.builder(16, 24, 3).kernelNum(3).build();
    private static final int N = 2, H = 11, W = 9;
    private static Device gpu;
    private static Arena weightsArena;
    private static ODConv2dWeights weights;

    @BeforeAll
    static void requireGpu() {
        gpu = TestDevices.requireGpu();
        weightsArena = Arena.ofShared();
        weights = TestData.weights(CONFIG, 11, weightsArena);
    }

    @AfterAll
    static void freeWeights() {
        if (weightsArena != null) weightsArena.close();
    }

    private static Tensor input(Layout layout) {
        try (Tensor nchw = TestData.tensor(12, N, 16, H, W)) {
            return nchw.toLayout(layout);
        }
    }

    /** The CPU layer's output for {@link #input(Layout)}, in that layout. */
    private static float[] cpuOutput(Layout layout) {
        try (ODConv2d cpu = ODConv2d.create(weights); Tensor x = input(layout); Tensor y = cpu.forward(x)) {
            return y.toArray();
        }
    }

    @Test
    void tf32IsOptInAndStaysClose() {
        try (ODConv2d layer = ODConv2d.create(weights, LayerOptions.DEFAULT.onDevice(gpu).allowingTf32(true));
             Tensor x = input(Layout.NCHW);
             DeviceTensor deviceInput = DeviceTensor.copyOf(x, gpu);
             DeviceTensor deviceOutput = layer.forward(deviceInput);
             Tensor y = deviceOutput.toTensor()) {
            assertTrue(layer.options().allowTf32());
            float[] expected = cpuOutput(Layout.NCHW);
            double scale = 1;
            for (float e : expected) scale = Math.max(scale, Math.abs(e));
            float[] actual = y.toArray();
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 1e-2 * scale, "TF32 element " + i);
            }
        }
    }

    @Test
    void asyncForwardsOnTwoStreamsWithPinnedTensors() {
        float[] expected = cpuOutput(Layout.NHWC);
        try (ODConv2d layer = ODConv2d.create(weights, gpu);
             Tensor x = input(Layout.NHWC);
             CudaStream first = CudaStream.create(gpu);
             CudaStream second = CudaStream.create(gpu)) {
            long[] out = layer.outputShape(N, H, W);
            List<AutoCloseable> resources = new ArrayList<>();
            try {
                CudaStream[] streams = {first, second};
                Tensor[] pinnedIn = new Tensor[2];
                Tensor[] pinnedOut = new Tensor[2];
                DeviceTensor[] deviceIn = new DeviceTensor[2];
                DeviceTensor[] deviceOut = new DeviceTensor[2];
                for (int s = 0; s < 2; s++) {
                    pinnedIn[s] = track(resources, Tensor.allocatePinned(N, 16, H, W, Layout.NHWC));
                    pinnedIn[s].segment().copyFrom(x.segment());
                    pinnedOut[s] = track(resources, Tensor.allocatePinned(out[0], out[1], out[2], out[3], Layout.NHWC));
                    deviceIn[s] = track(resources, DeviceTensor.allocate(gpu, N, 16, H, W, Layout.NHWC));
                    deviceOut[s] = track(resources, DeviceTensor.allocate(gpu, out[0], out[1], out[2], out[3], Layout.NHWC));
                    assertTrue(pinnedIn[s].isPinned());
                }
                for (int round = 0; round < 20; round++) {
                    for (int s = 0; s < 2; s++) {
                        deviceIn[s].copyFromAsync(pinnedIn[s], streams[s]);
                        layer.forwardAsync(deviceIn[s], deviceOut[s], streams[s]);
                        deviceOut[s].copyToAsync(pinnedOut[s], streams[s]);
                    }
                    for (int s = 0; s < 2; s++) {
                        streams[s].synchronize();
                        Comparison.assertClose(Comparison.toDouble(expected), pinnedOut[s].toArray(),
                                "stream " + s + ", round " + round);
                        pinnedOut[s].segment().fill((byte) 0);
                    }
                }
            } finally {
                for (AutoCloseable r : resources.reversed()) {
                    try {
                        r.close();
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }
            }
        }
    }

    private static <T extends AutoCloseable> T track(List<AutoCloseable> resources, T resource) {
        resources.add(resource);
        return resource;
    }

    @Test
    void wrongDevicesAreRefusedBeforeNativeCodeNamingBoth() {
        try (ODConv2d layer = ODConv2d.create(weights, gpu);
             ODConv2d cpuLayer = ODConv2d.create(weights);
             Tensor x = input(Layout.NCHW);
             Tensor y = Tensor.allocate(N, 24, CONFIG.outputSize(H, W)[0], CONFIG.outputSize(H, W)[1]);
             DeviceTensor onCpu = DeviceTensor.copyOf(x, Device.cpu());
             DeviceTensor onGpu = DeviceTensor.copyOf(x, gpu);
             DeviceTensor outOnGpu = layer.forward(onGpu);
             CudaStream stream = CudaStream.create(gpu)) {
            var e = assertThrows(IllegalArgumentException.class, () -> layer.forward(x, y));
            assertTrue(e.getMessage().startsWith("this layer is on " + gpu + " but the tensors are host Tensors (cpu)"),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> layer.forward(x));
            e = assertThrows(IllegalArgumentException.class, () -> layer.forward(onCpu, outOnGpu));
            assertTrue(e.getMessage().startsWith("the input is on cpu but the layer is on " + gpu), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> cpuLayer.forward(onGpu));
            assertTrue(e.getMessage().startsWith("the input is on " + gpu + " but the layer is on cpu"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> layer.forwardAsync(onCpu, outOnGpu, stream));
            assertTrue(e.getMessage().contains("cpu") && e.getMessage().contains(gpu.toString()), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> onGpu.copyFromAsync(x, stream));
            assertTrue(e.getMessage().startsWith("asynchronous copies need pinned host memory"), e.getMessage());
            if (Device.cudaDeviceCount() > 1) {
                Device other = Device.cuda(1);
                try (DeviceTensor onOther = DeviceTensor.copyOf(x, other); CudaStream otherStream = CudaStream.create(other)) {
                    e = assertThrows(IllegalArgumentException.class, () -> layer.forward(onOther, outOnGpu));
                    assertTrue(e.getMessage().startsWith("the input is on cuda:1 but the layer is on cuda:0"), e.getMessage());
                    e = assertThrows(IllegalArgumentException.class, () -> layer.forwardAsync(onGpu, outOnGpu, otherStream));
                    assertTrue(e.getMessage().startsWith("the stream is on cuda:1 but the layer is on cuda:0"), e.getMessage());
                }
            }
        }
    }

    @Test
    void closedStreamsAreRefused() {
        try (ODConv2d layer = ODConv2d.create(weights, gpu);
             Tensor x = input(Layout.NCHW);
             DeviceTensor deviceInput = DeviceTensor.copyOf(x, gpu);
             DeviceTensor deviceOutput = layer.forward(deviceInput)) {
            CudaStream stream = CudaStream.create(gpu);
            stream.close();
            stream.close();
            var e = assertThrows(IllegalStateException.class, () -> layer.forwardAsync(deviceInput, deviceOutput, stream));
            assertEquals("CudaStream on " + gpu + " is closed", e.getMessage());
            assertThrows(IllegalStateException.class, stream::synchronize);
        }
    }

    /** Closing what queued work uses waits for that work instead of freeing memory under it. */
    @Test
    void closingUnderQueuedWorkWaitsForIt() {
        float[] expected = cpuOutput(Layout.NCHW);
        try (Tensor x = input(Layout.NCHW); CudaStream stream = CudaStream.create(gpu)) {
            ODConv2d layer = ODConv2d.create(weights, gpu);
            DeviceTensor deviceInput = DeviceTensor.copyOf(x, gpu);
            DeviceTensor deviceOutput = layer.forward(deviceInput);
            Tensor pinned = Tensor.allocatePinned(deviceOutput.batch(), deviceOutput.channels(), deviceOutput.height(),
                    deviceOutput.width(), Layout.NCHW);
            for (int i = 0; i < 50; i++) layer.forwardAsync(deviceInput, deviceOutput, stream);
            deviceOutput.copyToAsync(pinned, stream);
            layer.close();        // waits for the 50 forwards
            deviceInput.close();
            float[] copied;
            try (Tensor host = Tensor.allocate(pinned.batch(), pinned.channels(), pinned.height(), pinned.width())) {
                deviceOutput.close();   // waits for the copy out
                host.segment().copyFrom(pinned.segment());
                copied = host.toArray();
            }
            pinned.close();
            stream.synchronize();  // nothing failed
            Comparison.assertClose(Comparison.toDouble(expected), copied, "after closing under queued work");
        }
    }


}
