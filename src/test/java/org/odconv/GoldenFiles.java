package org.odconv;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.odconv.io.SafeTensors;

/** The PyTorch golden cases made by tools/golden/make_golden.py, one folder each. */
final class GoldenFiles {
    private GoldenFiles() {}

    static Path root() {
        try {
            return Path.of(GoldenFiles.class.getResource("/golden").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<Path> cases() throws IOException {
        try (Stream<Path> dirs = Files.list(root())) {
            return dirs.filter(Files::isDirectory).sorted().toList();
        }
    }

    /** A layer's parameters as arrays (a copy, for the Java reference). */
    static Map<Parameter, float[]> parameters(SafeTensors file, String layer, ODConv2dConfig config) {
        Map<Parameter, float[]> values = new EnumMap<>(Parameter.class);
        for (Parameter p : Parameter.values()) {
            if (!p.isPresent(config)) continue;
            values.put(p, file.data(file.entry(layer + "." + p.stateDictName())).toArray(Tensor.ELEMENT));
        }
        return values;
    }
}
