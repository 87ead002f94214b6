package org.odconv.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import org.junit.jupiter.api.Test;

/**
 * The ONNX Runtime tests run on the ONNX Runtime the build uses, again on the oldest one odconv's operator
 * supports, and this class alone on one release older still (pom.xml, surefire executions onnxruntime-oldest and
 * onnxruntime-too-old). The build says which runtime each run is meant to have; these tests check that it has it,
 * and that the too-old one refuses the operator with a message, not a crash.
 */
class OnnxRuntimeVersionTest {
    private static final String EXPECTED = "odconv.test.onnxruntime.version";
    private static final String OLDEST = "odconv.test.onnxruntime.oldest";
    private static final String TOO_OLD = "odconv.test.onnxruntime.too.old";

    @Test
    void theTestsRunOnTheOnnxRuntimeTheBuildMeant() {
        String expected = System.getProperty(EXPECTED);
        assumeTrue(expected != null, EXPECTED + " is set by the Maven build only");
        assertEquals(expected, OrtFixtures.ENV.getVersion(), "ONNX Runtime on the test class path");
    }

    @Test
    void aRuntimeOlderThanTheOldestSupportedRefusesTheOperatorNamingBoth() throws OrtException {
        assumeTrue(Boolean.getBoolean(TOO_OLD), "only in the build's run on a too-old ONNX Runtime");
        String oldest = System.getProperty(OLDEST);  // e.g. 1.17.0, which the native library names as 1.17
        String oldestMinor = oldest.substring(0, oldest.lastIndexOf('.'));
        String running = OrtFixtures.ENV.getVersion();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OrtException refused = assertThrows(OrtException.class, () -> OdconvOrt.register(options, 1));
            String message = refused.getMessage();
            assertTrue(message.contains("needs ONNX Runtime " + oldestMinor + " or newer"), message);
            assertTrue(message.contains("this runtime is " + running), message);
        }
    }
}
