package com.example;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import org.odconv.ODConvModel;
import org.odconv.Odconv;
import org.odconv.Tensor;
import org.odconv.io.SafeTensors;

/** Runs the demo model the odconv jar carries and compares with PyTorch's output, as a user's program would. */
public final class Consumer {
    public static void main(String[] args) throws IOException {
        Path folder = Files.createTempDirectory("odconv-consumer");
        Path model = copy("model.safetensors", folder), input = copy("input.safetensors", folder);
        Path expected = copy("expected.safetensors", folder);
        try (ODConvModel layers = ODConvModel.load(model);
             SafeTensors x = SafeTensors.open(input);
             SafeTensors want = SafeTensors.open(expected);
             Tensor y = layers.forward(Tensor.from(x, "input"))) {
            float[] got = y.toArray(), reference = Tensor.from(want, "output").toArray();
            double error = 0;
            for (int i = 0; i < got.length; i++) error = Math.max(error, Math.abs(got[i] - reference[i]));
            System.out.printf("odconv %s: %d layers, max |odconv - pytorch| = %.3g: %s%n", Odconv.version(),
                    layers.layers().size(), error, error <= 1e-4 ? "MATCH" : "MISMATCH");
            if (error > 1e-4) System.exit(1);
        }
    }

    private static Path copy(String name, Path folder) throws IOException {
        try (InputStream in = Consumer.class.getResourceAsStream("/org/odconv/demo/" + name)) {
            if (in == null) throw new IOException("the odconv jar lacks /org/odconv/demo/" + name);
            Path file = folder.resolve(name);
            Files.copy(in, file);
            return file;
        }
    }
}
