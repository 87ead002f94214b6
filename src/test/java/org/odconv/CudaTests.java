package org.odconv;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * What the Cuda*Test classes share: they run where a CUDA GPU can be used and skip, saying why, elsewhere. With
 * the environment variable ODCONV_REQUIRE_CUDA=1 (the GPU check sets it) they fail instead of skipping, so a
 * GPU machine whose CUDA stack is broken cannot pass them by skipping.
 */
public final class CudaTests {
    private CudaTests() {}

    /** GPU 0, or skips (fails, when CUDA is required) the calling test class from @BeforeAll, with the reason. */
    public static Device requireGpu() {
        String reason = Device.cudaUnavailableReason().orElse(null);
        if (reason != null && "1".equals(System.getenv("ODCONV_REQUIRE_CUDA"))) {
            Assertions.fail("ODCONV_REQUIRE_CUDA=1 but CUDA cannot be used: " + reason);
        }
        if (reason != null) System.out.println("CUDA tests skipped: " + reason);
        Assumptions.assumeTrue(reason == null, () -> "no usable CUDA GPU: " + reason);
        return Device.cuda(0);
    }
}
