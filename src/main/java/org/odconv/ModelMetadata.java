package org.odconv;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import org.odconv.internal.Json;
import org.odconv.io.ModelFormatException;

/**
 * The {@code odconv} entry of a model file's {@code __metadata__}: a JSON string
 * {@code {"format_version":1,"layers":[{"name":..., "in_planes":..., ...}]}} listing the layers in the order
 * they run. Every field is required; unknown fields are ignored so that newer writers stay readable.
 * Consecutive layers need not chain (models interleave ODConv with other layers): a chain's channel counts
 * are checked when it runs, by {@code ODConvModel.checkInput}.
 */
final class ModelMetadata {
    /** The {@code __metadata__} key. */
    public static final String KEY = "odconv";
    /** The only {@code format_version} this reader accepts. */
    public static final int FORMAT_VERSION = 1;

    /**
     * One layer: the tensor-name prefix and the configuration.
     *
     * @param name   the layer's name, the prefix of its tensors' names in the file (e.g. {@code model.3}); not empty
     * @param config the layer's configuration, already validated
     */
    public record LayerSpec(String name, ODConv2dConfig config) {}

    private ModelMetadata() {}

    /** Parses and validates; every problem is a {@link ModelFormatException} naming the layer and field. */
    public static List<LayerSpec> parse(String source, String json) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(source, "__metadata__." + KEY + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new ModelFormatException(source, "__metadata__." + KEY + " is not a JSON object");
        JsonNode version = root.get("format_version");
        if (version == null || !version.isInt() || version.intValue() != FORMAT_VERSION) {
            throw new ModelFormatException(source, KEY + ".format_version = " + version + " is not supported (expected "
                    + FORMAT_VERSION + ")");
        }
        JsonNode layers = root.get("layers");
        if (layers == null || !layers.isArray() || layers.isEmpty()) {
            throw new ModelFormatException(source, KEY + ".layers must be a non-empty array");
        }
        List<LayerSpec> specs = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < layers.size(); i++) {
            LayerSpec spec = parseLayer(source, i, layers.get(i));
            if (!names.add(spec.name())) {
                throw new ModelFormatException(source, KEY + ".layers[" + i + "]: duplicate layer name \"" + spec.name() + "\"");
            }
            specs.add(spec);
        }
        return List.copyOf(specs);
    }

    private static LayerSpec parseLayer(String source, int index, JsonNode layer) {
        String where = KEY + ".layers[" + index + "]";
        if (!layer.isObject()) throw new ModelFormatException(source, where + " is not a JSON object");
        String name = text(source, where, layer, "name");
        if (name.isEmpty()) throw new ModelFormatException(source, where + ".name is empty");
        where = "layer \"" + name + "\"";
        Fields f = new Fields(source, where, layer);
        ODConv2dConfig.Builder builder = ODConv2dConfig.builder(f.integer("in_planes"), f.integer("out_planes"),
                f.integer("kernel_size"))
                .stride(f.integer("stride"))
                .padding(f.integer("padding"))
                .dilation(f.integer("dilation"))
                .groups(f.integer("groups"))
                .reduction(f.number("reduction"))
                .kernelNum(f.integer("kernel_num"))
                .minChannel(f.integer("min_channel"))
                .temperature((float) f.number("temperature"))
                .batchNorm(f.bool("bn"))
                .bnEps((float) f.number("bn_eps"))
                .attentionBnEps((float) f.number("attention_bn_eps"));
        String act = text(source, where, layer, "act");
        try {
            builder.activation(Activation.fromFileName(act));
            return new LayerSpec(name, builder.build());
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source, where + ": " + inFileNames(e.getMessage()), e);
        }
    }

    private static final Pattern JAVA_NAME = Pattern.compile("\\b[a-z]+(?:[A-Z][a-z]*)+\\b");

    /**
     * ODConv2dConfig names its fields in Java style ("kernelSize"); a file's reader should see the file's names,
     * which are the C library's ("kernel_size").
     */
    private static String inFileNames(String message) {
        return JAVA_NAME.matcher(message).replaceAll(
                m -> m.group().replaceAll("([A-Z])", "_$1").toLowerCase(java.util.Locale.ROOT));
    }

    private static String text(String source, String where, JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual()) {
            throw new ModelFormatException(source, where + ": field \"" + field + "\" is missing or not a string (" + value + ")");
        }
        return value.textValue();
    }

    private record Fields(String source, String where, JsonNode node) {
        JsonNode require(String field) {
            JsonNode value = node.get(field);
            if (value == null) throw new ModelFormatException(source, where + ": field \"" + field + "\" is missing");
            return value;
        }

        int integer(String field) {
            JsonNode value = require(field);
            if (!value.isIntegralNumber() || !value.canConvertToInt()) {
                throw new ModelFormatException(source, where + ": field \"" + field + "\" = " + value + " is not a 32-bit integer");
            }
            return value.intValue();
        }

        double number(String field) {
            JsonNode value = require(field);
            if (!value.isNumber()) throw new ModelFormatException(source, where + ": field \"" + field + "\" = " + value + " is not a number");
            return value.doubleValue();
        }

        boolean bool(String field) {
            JsonNode value = require(field);
            if (!value.isBoolean()) throw new ModelFormatException(source, where + ": field \"" + field + "\" = " + value + " is not a boolean");
            return value.booleanValue();
        }
    }
}
