package org.odconv.ort;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real ONNX Runtime sessions (libonnxruntime.so from Maven Central) running models exported by
 * tools/export/odconv_onnx.py with odconv's operator registered, against PyTorch's outputs. Every ORT ABI
 * slot libodconv_ort.so declares is called on these paths: attributes of each type, constant initializers,
 * node names, session configuration entries, shape inference.
 */
class OrtOperatorTest {
    /** The YOLO-style network: batch 1 and batch 5 from one file (dynamic batch). */
    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {1, 2, 3})
    void wholeNetworkMatchesPyTorchAtEveryBatch(int threads) throws OrtException {
        try (OrtSession session = OrtFixtures.session("yolo.onnx", threads)) {
            for (String batch : new String[] {"b1", "b5"}) {
                Map<String, float[]> outputs = OrtFixtures.run(session, "input_" + batch);
                assertEquals(List.of("p8", "p16"), List.copyOf(outputs.keySet()));
                OrtFixtures.assertMatches("expected_" + batch, outputs, "yolo.onnx " + batch + ", " + threads + " threads");
            }
        }
    }

    @Test
    void registeringWithoutAThreadCountSplitsNodesPerProcessor() throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OdconvOrt.register(options);
            try (OrtSession session = OrtFixtures.ENV.createSession(OrtFixtures.file("yolo.onnx").toString(), options)) {
                OrtFixtures.assertMatches("expected_b5", OrtFixtures.run(session, "input_b5"), "default threads");
            }
        }
    }

    /** One layer whose input has no declared shape: any height and width, the operator alone judging them. */
    @Test
    void singleLayerAtTwoSpatialSizes() throws OrtException {
        try (OrtSession session = OrtFixtures.session("single.onnx", 2)) {
            for (String input : new String[] {"single_a", "single_b"}) {
                OrtFixtures.assertMatches(input + "_expected", OrtFixtures.run(session, input), input);
            }
        }
    }

    /**
     * The graph declares the input's shape but not the output's: ONNX Runtime's output shape then comes from
     * the operator's shape inference (the output extent of 32 under kernel 3, dilation 2, padding 1, stride 2
     * is 15), with the batch symbolic. Without inference ONNX Runtime would know no rank at all.
     */
    @Test
    void shapeInferenceGivesTheOutputShape() throws OrtException {
        try (OrtSession session = OrtFixtures.session("single_declared.onnx", 1)) {
            TensorInfo output = (TensorInfo) session.getOutputInfo().get("output").getInfo();
            assertArrayEquals(new long[] {-1, 16, 15, 15}, output.getShape());
        }
        try (OrtSession session = OrtFixtures.session("single.onnx", 1)) {  // nothing declared, nothing inferred
            assertArrayEquals(new long[0], ((TensorInfo) session.getOutputInfo().get("output").getInfo()).getShape());
        }
    }

    /** ORT runs one session from many threads; each ODConv forward takes its own scratch memory. */
    @Test
    void concurrentRunsOfOneSessionAgree() throws Exception {
        try (OrtSession session = OrtFixtures.session("yolo.onnx", 1)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Map<String, float[]>>> runs = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    String input = i % 2 == 0 ? "input_b1" : "input_b5";
                    runs.add(pool.submit(() -> OrtFixtures.run(session, input)));
                }
                for (int i = 0; i < runs.size(); i++) {
                    String expected = i % 2 == 0 ? "expected_b1" : "expected_b5";
                    OrtFixtures.assertMatches(expected, runs.get(i).get(), "concurrent run " + i);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void aThreadCountBelowOneIsRefusedBeforeAnythingIsSet() throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OdconvOrt.register(options, 0));
            assertTrue(e.getMessage().contains("threads = 0"), e.getMessage());
            assertTrue(options.getConfigEntries().isEmpty(), options.getConfigEntries().toString());
        }
    }

    /** The thread count travels as a session configuration entry, read by the library at registration. */
    @Test
    void aMalformedThreadCountEntryFailsRegistrationNamingIt() throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.addConfigEntry(OdconvOrt.NUM_THREADS_KEY, "two");
            OrtException e = assertThrows(OrtException.class, () -> OdconvOrt.register(options));
            assertTrue(e.getMessage().contains("odconv.num_threads = \"two\" is not a thread count"), e.getMessage());
        }
    }

    /** A count past odconv's bound (four per processor) fails registration, before any session makes threads. */
    @Test
    void aThreadCountPastTheBoundFailsRegistration() throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.addConfigEntry(OdconvOrt.NUM_THREADS_KEY, "20000");
            OrtException e = assertThrows(OrtException.class, () -> OdconvOrt.register(options));
            assertTrue(e.getMessage().matches("(?s).*odconv.num_threads = \"20000\" is not a thread count in \\[0, \\d+\\]"
                    + " \\(0: one per processor; at most 4 per processor this process may run on\\).*"), e.getMessage());
        }
    }

    /** ONNX Runtime would accept a second registration and fail every session later; odconv refuses it at once. */
    @Test
    void registeringTwiceWithTheSameOptionsIsRefusedAtOnce() throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OdconvOrt.register(options, 1);
            OrtException e = assertThrows(OrtException.class, () -> OdconvOrt.register(options));
            assertTrue(e.getMessage().contains("the org.odconv domain is already registered with these session options"),
                    e.getMessage());
            try (OrtSession session = OrtFixtures.ENV.createSession(OrtFixtures.file("yolo.onnx").toString(), options)) {
                OrtFixtures.assertMatches("expected_b1", OrtFixtures.run(session, "input_b1"), "after the refusal");
            }
        }
    }

    @Test
    void theLibraryIsFoundBesideLibodconv() {
        assertTrue(OdconvOrt.libraryPath().getFileName().toString().equals("libodconv_ort.so"));
        assertTrue(OdconvOrt.libraryPath().isAbsolute());
    }
}
