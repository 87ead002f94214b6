package org.odconv.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import ai.onnxruntime.OrtSession;

import org.junit.jupiter.api.Test;
import org.odconv.io.SafeTensors;

/**
 * The YOLO-style fixture network under DJL's ONNX Runtime engine, the two ways DJL takes odconv's operator:
 * a {@link Criteria} option naming the operator library, and session options odconv registered itself. Each
 * runs batch 1 and batch 5 against PyTorch's outputs (docs/onnx-runtime.md, Under DJL).
 *
 * <p>DJL's engine creates ONNX Runtime's environment itself, with options, and cannot start in a JVM where one
 * exists already (as {@link OdconvOrt#environment()} and the other ONNX Runtime tests make): this class runs in
 * a JVM of its own, as a DJL application's (pom.xml, surefire execution djl), and never calls it.
 */
class DjlTest {
    @Test
    void criteriaNamingTheOperatorLibrary() throws Exception {
        Criteria<NDList, NDList> criteria = Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelPath(OrtFixtures.file("yolo.onnx"))
                .optEngine("OnnxRuntime")
                .optTranslator(new NoopTranslator())
                .optOption("customOpLibrary", OdconvOrt.libraryPath().toString())
                .build();
        try (ZooModel<NDList, NDList> model = criteria.loadModel()) {
            assertMatchesPyTorch(model, "customOpLibrary");
        }
    }

    @Test
    void sessionOptionsRegisteredByOdconv() throws Exception {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             Model model = Model.newInstance("yolo", "OnnxRuntime")) {
            OdconvOrt.register(options, 2);
            model.load(OrtFixtures.file("yolo.onnx"), null, Map.of("sessionOptions", options));
            assertMatchesPyTorch(model, "sessionOptions");
        }
    }

    private static void assertMatchesPyTorch(Model model, String how) throws Exception {
        try (Predictor<NDList, NDList> predictor = model.newPredictor(new NoopTranslator());
             NDManager manager = model.getNDManager().newSubManager()) {
            for (String batch : new String[] {"b1", "b5"}) {
                NDList outputs = predictor.predict(new NDList(input(manager, "input_" + batch)));
                Map<String, float[]> byName = new LinkedHashMap<>();
                for (NDArray output : outputs) byName.put(output.getName(), output.toFloatArray());
                assertEquals(List.of("p8", "p16"), List.copyOf(byName.keySet()), how);
                OrtFixtures.assertMatches("expected_" + batch, byName, "DJL, " + how + ", " + batch);
            }
        }
    }

    private static NDArray input(NDManager manager, String fixture) {
        try (SafeTensors file = SafeTensors.open(OrtFixtures.file(fixture + ".safetensors"))) {
            SafeTensors.Entry entry = file.entry("input");
            // Copied: DJL hands a direct buffer to ONNX Runtime as it is, and this one is unmapped when the file closes.
            FloatBuffer mapped = file.floatBuffer(entry);
            float[] values = new float[mapped.remaining()];
            mapped.get(values);
            NDArray array = manager.create(values, new Shape(entry.shape()));
            array.setName("input");
            return array;
        }
    }
}
