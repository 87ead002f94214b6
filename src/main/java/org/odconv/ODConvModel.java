package org.odconv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.HashSet;

import org.odconv.io.ModelFormatException;
import org.odconv.io.SafeTensors;

/**
 * The ODConv layers of a model file, ready to run: a safetensors file whose {@code __metadata__} entry
 * {@code odconv} lists the layers (see {@link ModelMetadata}) and whose tensors are the layers' PyTorch
 * {@code state_dict()} entries under each layer's name, in either {@link NamingScheme}. The layers are made
 * straight from the file's memory map (F16 and BF16 weights, as trained checkpoints often store them, are
 * converted to F32 on the way) and keep copies of what they need: once loading returns, the model reads the
 * file no more, and the file is closed (unmapped). Replacing or truncating it afterwards cannot affect the
 * model. While a model is loading, replace files by rename, never in place; {@link SafeTensors#read} loads
 * without a mapping at all.
 *
 * <p>Loaded onto a CUDA GPU ({@link #load(Path, LayerOptions)}), the layers upload their weights and run on
 * {@link DeviceTensor}s of that GPU ({@link #forward(DeviceTensor)}).
 *
 * <p>Owns the layers; {@link #close()} closes them, waiting for forwards in flight.
 */
public final class ODConvModel implements AutoCloseable {
    /**
     * A layer and its name in the file (the state_dict prefix, e.g. {@code model.3}).
     *
     * @param name the layer's name in the file
     * @param conv the layer, owned by the model: {@link ODConvModel#close()} closes it, the caller does not
     */
    public record Layer(String name, ODConv2d conv) {}

    private final String source;
    private final List<Layer> layers;
    private final Device device;

    private ODConvModel(String source, List<Layer> layers, Device device) {
        this.source = source;
        this.layers = layers;
        this.device = device;
    }

    /** Maps and loads a model file onto the CPU. */
    public static ODConvModel load(Path path) {
        return load(path, LayerOptions.DEFAULT);
    }

    /**
     * Maps and loads a model file onto a device.
     *
     * @param path    the model file
     * @param options where the layers run and how (see {@link LayerOptions})
     * @throws DeviceUnavailableException when CUDA cannot be used, with the native reason
     */
    public static ODConvModel load(Path path, LayerOptions options) {
        return from(SafeTensors.open(path), options);
    }

    /**
     * Loads the layers of an open file onto the CPU and closes the file (the layers keep copies of their weights),
     * whether loading succeeds or fails.
     */
    public static ODConvModel from(SafeTensors file) {
        return from(file, LayerOptions.DEFAULT);
    }

    /**
     * As {@link #from(SafeTensors)}, onto a device.
     *
     * @param file    the open file, closed when this returns
     * @param options where the layers run and how (see {@link LayerOptions})
     * @throws DeviceUnavailableException when CUDA cannot be used, with the native reason
     */
    public static ODConvModel from(SafeTensors file, LayerOptions options) {
        List<Layer> layers = new ArrayList<>();
        Arena conversions = Arena.ofShared();
        try {
            String json = file.metadata().get(ModelMetadata.KEY);
            if (json == null) {
                throw new ModelFormatException(file.source(), "__metadata__ has no \"" + ModelMetadata.KEY
                        + "\" entry; this is not an odconv model file");
            }
            List<ModelMetadata.LayerSpec> specs = ModelMetadata.parse(file.source(), json);
            checkNoStrayTensors(file, specs);
            for (ModelMetadata.LayerSpec spec : specs) {
                layers.add(new Layer(spec.name(), ODConv2d.create(weights(file, spec, conversions), options)));
            }
            return new ODConvModel(file.source(), List.copyOf(layers), options.device());
        } catch (RuntimeException | Error e) {
            layers.forEach(l -> l.conv().close());
            throw e;
        } finally {
            conversions.close();  // the layers hold their own copies
            file.close();
        }
    }

    /**
     * The layer's parameters: views of the file when F32 (zero-copy), else F16/BF16 converted once into
     * {@code conversions}.
     */
    private static ODConv2dWeights weights(SafeTensors file, ModelMetadata.LayerSpec spec, Arena conversions) {
        ODConv2dConfig config = spec.config();
        NamingScheme scheme = namingScheme(file, spec.name());
        Map<Parameter, MemorySegment> segments = new EnumMap<>(Parameter.class);
        for (Parameter p : Parameter.values()) {
            long[] expected = p.shapeOrNone(config);
            if (expected.length == 0) continue;
            String name = spec.name() + "." + p.stateDictName(scheme);
            SafeTensors.Entry entry = file.entry(name);
            if (!Arrays.equals(entry.shape(), expected)) {
                throw new ModelFormatException(file.source(), "tensor \"" + name + "\" has shape "
                        + Arrays.toString(entry.shape()) + ", layer \"" + spec.name() + "\" needs "
                        + Arrays.toString(expected));
            }
            segments.put(p, switch (entry.dtype()) {
                case F32 -> file.floatData(entry);
                case F16, BF16 -> HalfPrecision.toFloat32(file.data(entry), entry.dtype(), conversions);
                default -> throw new ModelFormatException(file.source(), "tensor \"" + name + "\" is " + entry.dtype()
                        + ", expected F32, F16 or BF16");
            });
        }
        return ODConv2dWeights.of(config, segments, file);
    }

    /** The OSVAI module names its attention trunk attention.fc.weight; the seed attention.fc.conv.weight. */
    private static NamingScheme namingScheme(SafeTensors file, String layer) {
        return !file.entries().containsKey(layer + "." + Parameter.ATTENTION_FC_WEIGHT.stateDictName(NamingScheme.SEED))
                && file.entries().containsKey(layer + "." + Parameter.ATTENTION_FC_WEIGHT.stateDictName(NamingScheme.OSVAI))
                ? NamingScheme.OSVAI : NamingScheme.SEED;
    }

    /** Tensors under a layer's prefix that its configuration does not use point at a config mismatch. */
    private static void checkNoStrayTensors(SafeTensors file, List<ModelMetadata.LayerSpec> specs) {
        Set<String> expected = new HashSet<>();
        for (ModelMetadata.LayerSpec spec : specs) {
            NamingScheme scheme = namingScheme(file, spec.name());
            for (Parameter p : Parameter.values()) {
                if (p.isPresent(spec.config())) expected.add(spec.name() + "." + p.stateDictName(scheme));
            }
        }
        for (String name : file.entries().keySet()) {
            if (expected.contains(name) || name.endsWith(".num_batches_tracked")) continue;
            for (ModelMetadata.LayerSpec spec : specs) {
                if (name.startsWith(spec.name() + ".")) {
                    throw new ModelFormatException(file.source(), "tensor \"" + name + "\" is not used by layer \""
                            + spec.name() + "\" as configured (" + spec.config() + ")");
                }
            }
        }
    }

    /** Where the model came from. */
    public String source() {
        return source;
    }

    /** The device the layers run on. */
    public Device device() {
        return device;
    }

    /** The layers in the order they run. */
    public List<Layer> layers() {
        return layers;
    }

    /** The layer of that name, or an {@link IllegalArgumentException} listing the names. */
    public ODConv2d layer(String name) {
        return namedLayer(name).conv();
    }

    /** The layer of that name with its name, or an {@link IllegalArgumentException} listing the names. */
    public Layer namedLayer(String name) {
        for (Layer l : layers) {
            if (l.name().equals(name)) return l;
        }
        throw new IllegalArgumentException("no layer \"" + name + "\" in " + source() + "; layers: "
                + layers.stream().map(Layer::name).toList());
    }

    /** Output shape of the whole chain for an NCHW input shape. */
    public long[] outputShape(long batch, long height, long width) {
        long[] shape = {batch, layers.getFirst().conv().config().inPlanes(), height, width};
        for (Layer l : layers) shape = l.conv().outputShape(shape[0], shape[2], shape[3]);
        return shape;
    }

    /**
     * Checks that an input of this shape can run through every layer.
     *
     * @throws IllegalArgumentException naming the first layer that refuses it and why
     */
    public void checkInput(long batch, long channels, long height, long width) {
        checkInput(layers, batch, channels, height, width);
    }

    /** As {@link #checkInput(long, long, long, long)}, for running {@code run} in order (e.g. one layer). */
    public static void checkInput(List<Layer> run, long batch, long channels, long height, long width) {
        if (batch < 1) throw new IllegalArgumentException("batch = " + batch + " must be >= 1");
        long c = channels, h = height, w = width;
        for (Layer l : run) {
            ODConv2dConfig config = l.conv().config();
            try {
                if (c != config.inPlanes()) {
                    throw new IllegalArgumentException("has " + c + " channels, expected in_planes = " + config.inPlanes());
                }
                long[] size = config.outputSize(h, w);
                h = size[0];
                w = size[1];
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("input [" + batch + ", " + channels + ", " + height + ", " + width
                        + "] does not fit layer \"" + l.name() + "\": its input " + e.getMessage().replaceFirst("^input ", ""), e);
            }
            c = config.outPlanes();
        }
    }

    /** Runs every layer in order; the result is a new owning tensor the caller closes. */
    public Tensor forward(Tensor input) {
        return forward(layers, input);
    }

    /** Runs the given layers in order; the result is a new owning tensor the caller closes. */
    public static Tensor forward(List<Layer> run, Tensor input) {
        return chain(run, input, ODConv2d::forward);
    }

    /**
     * Runs every layer in order on a tensor of the model's device; the result is a new tensor there, which
     * the caller closes.
     */
    public DeviceTensor forward(DeviceTensor input) {
        return forward(layers, input);
    }

    /** Runs the given layers in order on their device; the result is a new tensor there, which the caller closes. */
    public static DeviceTensor forward(List<Layer> run, DeviceTensor input) {
        return chain(run, input, ODConv2d::forward);
    }

    /** Feeds each layer's new output to the next, closing the intermediate ones (never the input). */
    private static <T extends Shaped> T chain(List<Layer> run, T input, BiFunction<ODConv2d, T, T> forward) {
        T current = input;
        try {
            for (Layer l : run) {
                T next = forward.apply(l.conv(), current);
                if (current != input) current.close();
                current = next;
            }
            return current;
        } catch (RuntimeException | Error e) {
            if (current != input) current.close();
            throw e;
        }
    }

    /** Threads per forward for every layer (0: the default). */
    public void setNumThreads(int threads) {
        layers.forEach(l -> l.conv().setNumThreads(threads));
    }

    /** Closes the layers. Idempotent. */
    @Override
    public void close() {
        layers.forEach(l -> l.conv().close());
    }
}
