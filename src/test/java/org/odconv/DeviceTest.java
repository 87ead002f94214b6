package org.odconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Devices: naming and parsing them, device memory and layers on each device present, and the typed, explained
 * failure of every CUDA request where CUDA cannot be used.
 */
class DeviceTest {
    private static final ODConv2dConfig CONFIG = ODConv2dConfig.builder(8, 12, 3).kernelNum(2).build();
    private static final ODConv2dConfig LAYER = ODConv2dConfig.builder(16, 24, 3).kernelNum(3).build();

    @Test
    void parsesWhatToStringWrites() {
        assertEquals(Device.cpu(), Device.parse("cpu"));
        assertEquals(Device.cuda(0), Device.parse("cuda"));
        assertEquals(Device.cuda(0), Device.parse(" CUDA:0 "));
        assertEquals(Device.cuda(3), Device.parse("cuda:3"));
        for (Device d : new Device[] {Device.cpu(), Device.cuda(0), Device.cuda(12)}) {
            assertEquals(d, Device.parse(d.toString()));
        }
        assertEquals("cpu", Device.cpu().toString());
        assertEquals("cuda:0", Device.cuda(0).toString());
        assertEquals(Device.Type.CUDA, Device.cuda(2).type());
        assertEquals(2, Device.cuda(2).index());
        assertEquals(0, Device.cpu().index());
        assertTrue(Device.cuda(0).isCuda());
        assertFalse(Device.cpu().isCuda());
    }

    @Test
    void equalityIsByTypeAndIndex() {
        assertEquals(Device.cuda(1), Device.cuda(1));
        assertEquals(Device.cuda(1).hashCode(), Device.parse("cuda:1").hashCode());
        assertNotEquals(Device.cuda(0), Device.cuda(1));
        assertNotEquals(Device.cpu(), Device.cuda(0));
        assertEquals(Device.cpu(), new Device(Device.Type.CPU, 0));
    }

    @Test
    void badDeviceNamesAreRefusedNamingTheText() {
        for (String bad : new String[] {"gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "cpu:1", "", "cuda:99999999999"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> Device.parse(bad), bad);
            assertEquals("device \"" + bad + "\" is not cpu, cuda or cuda:N (N a GPU index)", e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Device.parse(null));
        assertThrows(IllegalArgumentException.class, () -> Device.cuda(-1));
        assertThrows(IllegalArgumentException.class, () -> new Device(Device.Type.CPU, 1));
    }

    @Test
    void theCpuDescribesItself() {
        assertTrue(Device.cpu().describe().startsWith("CPU ("), Device.cpu().describe());
    }

    @Test
    void cudaCountAndReasonAgree() {
        int count = Device.cudaDeviceCount();
        Optional<String> reason = Device.cudaUnavailableReason();
        assertEquals(count == 0, reason.isPresent(), "count " + count + ", reason " + reason);
        reason.ifPresent(r -> assertTrue(r.contains("CUDA"), r));
    }

    /** Every way into CUDA fails alike where it cannot be used: typed, with the native reason. */
    @Test
    void cudaRequestsFailWithTheNativeReasonWhereCudaIsUnusable() {
        Optional<String> reason = Device.cudaUnavailableReason();
        Assumptions.assumeTrue(reason.isPresent(), "CUDA is usable here; DeviceTest covers the machines without it");
        Device gpu = Device.cuda(0);
        try (Arena arena = Arena.ofConfined()) {
            ODConv2dWeights weights = TestData.weights(CONFIG, 1, arena);
            assertUnavailable(() -> ODConv2d.create(weights, gpu));
            assertUnavailable(() -> ODConv2d.create(weights, LayerOptions.DEFAULT.onDevice(gpu).allowingTf32(true)));
        }
        assertUnavailable(() -> DeviceTensor.allocate(gpu, 1, 8, 5, 5));
        assertUnavailable(() -> CudaStream.create(gpu));
        assertUnavailable(() -> Tensor.allocatePinned(1, 8, 5, 5, Layout.NCHW));
        assertUnavailable(gpu::describe);
        Path model = GoldenFiles.root().resolve("chain3/model.safetensors");
        assertUnavailable(() -> ODConvModel.load(model, LayerOptions.DEFAULT.onDevice(gpu)));
        try (Tensor host = Tensor.allocate(1, 8, 5, 5)) {
            assertUnavailable(() -> DeviceTensor.copyOf(host, gpu));
        }
    }

    private static void assertUnavailable(Executable cudaRequest) {
        var e = assertThrows(DeviceUnavailableException.class, cudaRequest);
        assertEquals(Device.cuda(0), e.device());
        assertTrue(e.getMessage().contains("(device unavailable): ") && e.getMessage().contains("CUDA"), e.getMessage());
        assertTrue(e.getMessage().endsWith(Device.cudaUnavailableReason().orElseThrow()), e.getMessage());
    }

    @Test
    void theCpuHasNoStreams() {
        var e = assertThrows(IllegalArgumentException.class, () -> CudaStream.create(Device.cpu()));
        assertTrue(e.getMessage().startsWith("streams are for CUDA devices, not cpu"), e.getMessage());
    }

    @OnEachDevice
    void deviceTensorsRoundTripInBothLayouts(Device device) {
        for (Layout layout : Layout.values()) {
            float[] values = TestData.values(2 * 3 * 4 * 5, 9);
            try (Tensor host = Tensor.copyOf(values, 2, 3, 4, 5, layout);
                 DeviceTensor onDevice = DeviceTensor.copyOf(host, device);
                 Tensor back = onDevice.toTensor()) {
                assertEquals(device, onDevice.device());
                assertArrayEquals(new long[] {2, 3, 4, 5}, onDevice.shape());
                assertEquals(layout, onDevice.layout());
                assertEquals(120, onDevice.elementCount());
                assertEquals(layout, back.layout());
                assertArrayEquals(values, back.toArray());
            }
        }
    }

    @OnEachDevice
    void copiesCheckShapesAndLayoutsNamingBoth(Device device) {
        try (DeviceTensor onDevice = DeviceTensor.allocate(device, 1, 3, 4, 5);
             Tensor other = Tensor.allocate(1, 3, 5, 4);
             Tensor nhwc = Tensor.allocate(1, 3, 4, 5, Layout.NHWC)) {
            var e = assertThrows(IllegalArgumentException.class, () -> onDevice.copyFrom(other));
            assertEquals("cannot copy Tensor[1, 3, 5, 4] into DeviceTensor[1, 3, 4, 5] NCHW on " + device + ": shapes"
                    + " [1, 3, 5, 4] and [1, 3, 4, 5] (layouts NCHW and NCHW) must be equal", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> onDevice.copyTo(nhwc));
            assertEquals("cannot copy DeviceTensor[1, 3, 4, 5] NCHW on " + device + " into Tensor[1, 3, 4, 5] NHWC:"
                    + " shapes [1, 3, 4, 5] and [1, 3, 4, 5] (layouts NHWC and NCHW) must be equal", e.getMessage());
        }
    }

    /** A closed DeviceTensor keeps its shape and refuses copies and forwards; a closed host Tensor is refused too. */
    @OnEachDevice
    void closeIsIdempotentAndUseAfterCloseThrows(Device device) {
        DeviceTensor closed = DeviceTensor.allocate(device, 1, 16, 3, 3);
        closed.close();
        closed.close();
        assertTrue(closed.isClosed());
        assertEquals(3, closed.height(), "the shape stays readable");
        try (Tensor host = Tensor.allocate(1, 16, 3, 3)) {
            var e = assertThrows(IllegalStateException.class, () -> closed.copyFrom(host));
            assertEquals("DeviceTensor[1, 16, 3, 3] on " + device + " is closed", e.getMessage());
            assertThrows(IllegalStateException.class, () -> closed.copyTo(host));
        }
        try (Arena arena = Arena.ofConfined();
             ODConv2d layer = ODConv2d.create(TestData.weights(LAYER, 4, arena), device);
             DeviceTensor output = DeviceTensor.allocate(device, 1, 24, 3, 3)) {
            var e = assertThrows(IllegalStateException.class, () -> layer.forward(closed, output));
            assertEquals("DeviceTensor[1, 16, 3, 3] on " + device + " is closed", e.getMessage());
        }
        try (Tensor host = Tensor.allocate(1, 16, 3, 3); DeviceTensor open = DeviceTensor.allocate(device, 1, 16, 3, 3)) {
            host.close();
            assertThrows(IllegalStateException.class, () -> open.copyFrom(host));
        }
    }

    /**
     * A layer on a device runs on that device's tensors as the CPU layer runs on host tensors, in both layouts
     * (on the CPU itself bit for bit: the same computation), without TF32 unless asked, and not once closed.
     */
    @OnEachDevice
    void layersOnADeviceMatchTheCpuLayerInBothLayouts(Device device) {
        for (Layout layout : Layout.values()) {
            try (Arena arena = Arena.ofConfined()) {
                ODConv2dWeights weights = TestData.weights(LAYER, 2, arena);
                ODConv2d layer = ODConv2d.create(weights, device);
                try (ODConv2d cpuLayer = ODConv2d.create(weights);
                     Tensor nchw = TestData.tensor(3, 2, 16, 7, 6);
                     Tensor input = nchw.toLayout(layout);
                     Tensor expected = cpuLayer.forward(input);
                     DeviceTensor deviceInput = DeviceTensor.copyOf(input, device);
                     DeviceTensor deviceOutput = layer.forward(deviceInput);
                     Tensor actual = deviceOutput.toTensor()) {
                    assertEquals(device, layer.device());
                    assertFalse(layer.options().allowTf32());
                    assertEquals(layout, actual.layout());
                    Comparison.assertClose(Comparison.toDouble(expected.toArray()), actual.toArray(),
                            device + " vs cpu, " + layout);
                    if (!device.isCuda()) assertArrayEquals(expected.toArray(), actual.toArray());
                    layer.close();
                    var e = assertThrows(IllegalStateException.class, () -> layer.forward(deviceInput, deviceOutput));
                    assertEquals("ODConv2d layer is closed", e.getMessage());
                }
            }
        }
    }

    @OnEachDevice
    void modelsLoadOntoEachDeviceAndChainDeviceTensors(Device device) {
        Path dir = GoldenFiles.root().resolve("chain3");
        try (ODConvModel model = ODConvModel.load(dir.resolve("model.safetensors"), LayerOptions.DEFAULT.onDevice(device));
             var input = org.odconv.io.SafeTensors.open(dir.resolve("input.safetensors"));
             var expected = org.odconv.io.SafeTensors.open(dir.resolve("expected.safetensors"));
             DeviceTensor x = DeviceTensor.copyOf(Tensor.from(input, "input"), device);
             DeviceTensor y = model.forward(x);
             Tensor result = y.toTensor()) {
            assertEquals(device, model.device());
            assertEquals(device, y.device());
            Comparison.assertClose(Comparison.toDouble(Tensor.from(expected, "output").toArray()), result.toArray(),
                    "chain3 on " + device);
        }
    }

}
