package org.odconv.examples.spark;

import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.StructType;

/**
 * Scores one partition: takes its rows a batch at a time, runs each batch through this executor's network
 * ({@link ExecutorModels}, with as many threads as the task has cores, {@code spark.task.cpus}), and yields a
 * row per input row: the input's other columns as they were, then every network output, in the network's
 * order. Rows are pulled lazily, so a partition of any size takes one batch of memory.
 */
final class ScorePartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    private final String model;
    private final int batchSize;
    private final int inputColumn;
    private final long[] sampleShape;
    private final ElementType elementType;
    private final String[] keptColumns;
    private final int[] keptIndexes;

    /**
     * @param model       the model file as given to the job
     * @param batchSize   samples per network run
     * @param inputSchema the schema of the rows to score
     * @param inputColumn the index of their tensor column in it
     * @param sampleShape the shape of one input sample, {@code [channels, height, width]}
     * @param elementType what the tensor column's bytes hold
     */
    ScorePartition(String model, int batchSize, StructType inputSchema, int inputColumn, long[] sampleShape,
                   ElementType elementType) {
        this.model = model;
        this.batchSize = batchSize;
        this.inputColumn = inputColumn;
        this.sampleShape = sampleShape.clone();
        this.elementType = elementType;
        List<String> names = new ArrayList<>();
        List<Integer> indexes = new ArrayList<>();
        for (int i = 0; i < inputSchema.fields().length; i++) {
            if (i == inputColumn) continue;
            names.add(inputSchema.fields()[i].name());
            indexes.add(i);
        }
        keptColumns = names.toArray(String[]::new);
        keptIndexes = indexes.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The threads a batch of this task may use: the cores Spark gave the task. */
    static int taskThreads() {
        TaskContext task = TaskContext.get();
        return task == null ? 1 : task.cpus();
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        Network network = ExecutorModels.get(new ExecutorModels.Key(model, taskThreads()));
        return new Batches(network, rows);
    }

    private final class Batches implements Iterator<Row> {
        private final Network network;
        private final Iterator<Row> rows;
        private final int sampleBytes;
        private final FloatBuffer batch;
        private final List<Row> inputs = new ArrayList<>();
        private final ArrayDeque<Row> scored = new ArrayDeque<>();

        Batches(Network network, Iterator<Row> rows) {
            this.network = network;
            this.rows = rows;
            sampleBytes = Math.multiplyExact(Network.sampleElements(sampleShape), elementType.bytes());
            batch = Network.batchBuffer(batchSize, sampleShape);
        }

        @Override
        public boolean hasNext() {
            if (scored.isEmpty() && rows.hasNext()) scoreNextBatch();
            return !scored.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) throw new NoSuchElementException();
            return scored.removeFirst();
        }

        private void scoreNextBatch() {
            inputs.clear();
            batch.clear();
            while (inputs.size() < batchSize && rows.hasNext()) {
                Row row = rows.next();
                Object value = row.get(inputColumn);
                if (!(value instanceof byte[] bytes) || bytes.length != sampleBytes) {
                    throw new IllegalArgumentException(describe(row) + ": its tensor has "
                            + (value instanceof byte[] b ? b.length + " bytes" : "no bytes (" + value + ")")
                            + ", expected " + sampleBytes + " (" + elementType.label() + " samples of shape "
                            + Arrays.toString(sampleShape) + ")");
                }
                elementType.appendTo(batch, bytes);
                inputs.add(row);
            }
            int n = inputs.size();
            List<Network.Output> outputs = network.run(batch.flip(), Network.batchShape(n, sampleShape));
            for (int i = 0; i < n; i++) scored.add(scoredRow(inputs.get(i), outputs, i));
        }

        private Row scoredRow(Row input, List<Network.Output> outputs, int sample) {
            Object[] values = new Object[keptIndexes.length + outputs.size()];
            for (int i = 0; i < keptIndexes.length; i++) values[i] = input.get(keptIndexes[i]);
            for (int o = 0; o < outputs.size(); o++) {
                Network.Output output = outputs.get(o);
                int size = output.sampleSize();
                values[keptIndexes.length + o] = TensorColumns.encode(output.values().slice(sample * size, size));
            }
            return RowFactory.create(values);
        }

        /** The row by its other columns, for messages: {@code row (id=17)}. */
        private String describe(Row row) {
            StringBuilder text = new StringBuilder("row (");
            for (int i = 0; i < keptIndexes.length && i < 3; i++) {
                if (i > 0) text.append(", ");
                text.append(keptColumns[i]).append('=').append(row.get(keptIndexes[i]));
            }
            return text.append(')').toString();
        }
    }
}
