package org.odconv.examples.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * A model an executor runs on batches of samples: a whole ONNX network with odconv's operator
 * ({@link OnnxNetwork}) or a file of ODConv layers ({@link LayerChain}). One instance serves every task of an
 * executor JVM at once (see {@link ExecutorModels}), so {@link #run} must be safe to call from many threads.
 */
interface Network extends AutoCloseable {
    /**
     * Runs one batch.
     *
     * @param batch  the samples, float32, NCHW, one after the other; a direct buffer, read in place
     * @param shape  the batch's shape, {@code [batch, channels, height, width]}
     * @return every output of the network, in the network's order
     */
    List<Output> run(FloatBuffer batch, long[] shape);

    /** Elements in one sample of {@code sampleShape}. */
    static int sampleElements(long[] sampleShape) {
        long elements = 1;
        for (long d : sampleShape) elements = Math.multiplyExact(elements, d);
        return Math.toIntExact(elements);
    }

    /** The shape of a batch of {@code samples} samples: {@code [samples, ...sampleShape]}. */
    static long[] batchShape(int samples, long[] sampleShape) {
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = samples;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        return shape;
    }

    /**
     * Room for {@code samples} samples of {@code sampleShape}: direct and in the machine's byte order, so that
     * {@link #run} reads it in place.
     */
    static FloatBuffer batchBuffer(int samples, long[] sampleShape) {
        return ByteBuffer.allocateDirect(Math.multiplyExact(Math.multiplyExact(sampleElements(sampleShape), samples),
                Float.BYTES)).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /**
     * One output of a batch.
     *
     * @param name   the output's name in the network
     * @param shape  its shape, batch first
     * @param values its values, row-major
     */
    record Output(String name, long[] shape, FloatBuffer values) {
        /** Floats per sample. */
        int sampleSize() {
            long size = 1;
            for (int i = 1; i < shape.length; i++) size *= shape[i];
            return Math.toIntExact(size);
        }
    }

    @Override
    void close();
}
