package org.odconv;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.provider.Arguments;

/**
 * The devices the tests run on, as ggml's test-backend-ops runs each operation on every backend: a behaviour is
 * tested once ({@link OnEachDevice}), on the CPU always and on GPU 0 where CUDA can be used. Where it cannot, the
 * CUDA cases are left out and the reason is printed once. With the environment variable ODCONV_REQUIRE_CUDA=1
 * (the GPU check sets it) an unusable CUDA fails the run instead, so that a GPU machine whose CUDA stack is
 * broken cannot pass by leaving its cases out. Likewise ODCONV_REQUIRE_BF16=1 (the device check's CPU part sets it)
 * fails, instead of skipping, a bfloat16 test on a device that cannot compute in bfloat16.
 */
public final class TestDevices {
    /** The tag of every test that runs on devices; the GPU check runs the tests with this tag. */
    public static final String TAG = "devices";

    private static final AtomicBoolean UNAVAILABILITY_REPORTED = new AtomicBoolean();

    private TestDevices() {}

    /** The CPU, and GPU 0 where CUDA can be used (fails where CUDA is required but cannot be used). */
    public static List<Device> present() {
        Optional<String> reason = Device.cudaUnavailableReason();
        if (reason.isEmpty()) return List.of(Device.cpu(), Device.cuda(0));
        failOrReport(reason.get());
        return List.of(Device.cpu());
    }

    /** Each device present with each case, named "device case" in the test report. */
    public static Stream<Arguments> crossedWith(List<?> cases) {
        return present().stream().flatMap(device -> cases.stream()
                .map(c -> Arguments.argumentSet(device + " " + name(c), device, c)));
    }

    private static String name(Object testCase) {
        return testCase instanceof java.nio.file.Path path ? path.getFileName().toString() : String.valueOf(testCase);
    }

    /**
     * GPU 0, for the tests of what only CUDA has (streams, pinned memory, TF32); skips the calling test where
     * CUDA cannot be used, or fails it where CUDA is required.
     */
    public static Device requireGpu() {
        Optional<String> reason = Device.cudaUnavailableReason();
        reason.ifPresent(TestDevices::failOrReport);
        Assumptions.assumeTrue(reason.isEmpty(), () -> "no usable CUDA GPU: " + reason.orElseThrow());
        return Device.cuda(0);
    }

    /**
     * Skips the calling test where {@code device} cannot compute in {@code precision}, or fails it where
     * ODCONV_REQUIRE_BF16=1 asks for bfloat16.
     */
    public static void assumeComputesIn(Device device, Precision precision) {
        Optional<String> reason = device.unsupportedReason(precision);
        if (reason.isPresent() && precision == Precision.BF16 && "1".equals(System.getenv("ODCONV_REQUIRE_BF16"))) {
            Assertions.fail("ODCONV_REQUIRE_BF16=1 but " + device + " cannot compute in bf16: " + reason.get());
        }
        Assumptions.assumeTrue(reason.isEmpty(), () -> device + ": " + reason.orElseThrow());
    }

    private static void failOrReport(String reason) {
        if ("1".equals(System.getenv("ODCONV_REQUIRE_CUDA"))) {
            Assertions.fail("ODCONV_REQUIRE_CUDA=1 but CUDA cannot be used: " + reason);
        }
        if (UNAVAILABILITY_REPORTED.compareAndSet(false, true)) System.out.println("CUDA cases not run: " + reason);
    }

    /**
     * A host tensor through a layer as an application would run it: host tensors on the CPU, a copy into device
     * memory and back on a GPU. The result is a host tensor the caller closes.
     */
    public static Tensor forward(ODConv2d layer, Tensor input) {
        return forward(layer.device(), input, layer::forward, layer::forward);
    }

    /** As {@link #forward(ODConv2d, Tensor)}, through every layer of a model. */
    public static Tensor forward(ODConvModel model, Tensor input) {
        return forward(model.device(), input, model::forward, model::forward);
    }

    private static Tensor forward(Device device, Tensor input, UnaryOperator<Tensor> onHost,
            UnaryOperator<DeviceTensor> onDevice) {
        if (!device.isCuda()) return onHost.apply(input);
        try (DeviceTensor deviceInput = DeviceTensor.copyOf(input, device);
             DeviceTensor deviceOutput = onDevice.apply(deviceInput)) {
            return deviceOutput.toTensor();
        }
    }
}
