package org.odconv.examples.spark;

import java.lang.foreign.MemorySegment;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;

import org.odconv.ODConvModel;
import org.odconv.Tensor;

/** A file of ODConv layers ({@link ODConvModel}), run in order; its one output is named {@value #OUTPUT}. */
final class LayerChain implements Network {
    /** The name of the chain's output. */
    static final String OUTPUT = "output";

    private final ODConvModel model;

    /**
     * @param file    a safetensors file of ODConv layers (odconv's exporter writes them)
     * @param threads threads per forward
     */
    LayerChain(Path file, int threads) {
        model = ODConvModel.load(file);
        model.setNumThreads(threads);
    }

    @Override
    public List<Output> run(FloatBuffer batch, long[] shape) {
        Tensor input = Tensor.wrap(MemorySegment.ofBuffer(batch), shape[0], shape[1], shape[2], shape[3]);
        try (Tensor output = model.forward(input)) {
            float[] values = output.toArray();
            return List.of(new Output(OUTPUT, output.shape(), FloatBuffer.wrap(values)));
        }
    }

    @Override
    public void close() {
        model.close();
    }
}
