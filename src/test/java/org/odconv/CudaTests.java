package org.odconv;

import org.junit.jupiter.api.Assumptions;

/** What the Cuda*Test classes share: they run where a CUDA GPU can be used and skip, saying why, elsewhere. */
final class CudaTests {
    private CudaTests() {}

    /** GPU 0, or skips the calling test class (from @BeforeAll) with the reason CUDA cannot be used. */
    static Device requireGpu() {
        String reason = Device.cudaUnavailableReason().orElse(null);
        if (reason != null) System.out.println("CUDA tests skipped: " + reason);
        Assumptions.assumeTrue(reason == null, () -> "no usable CUDA GPU: " + reason);
        return Device.cuda(0);
    }
}
