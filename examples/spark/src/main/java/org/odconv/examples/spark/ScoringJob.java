package org.odconv.examples.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.sql.DataFrameWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Batch inference on Spark: reads rows holding a tensor each from Parquet, runs them through a network
 * (an ONNX model with odconv's operator, or a file of ODConv layers) inside each partition, a batch at a time,
 * and writes every row's outputs to Parquet beside its other columns.
 *
 * <pre>
 * spark-submit --class org.odconv.examples.spark.ScoringJob --files model.onnx odconv-spark-job.jar \
 *     --model model.onnx --input in.parquet --output out.parquet [--batch-size 8] [--input-column input] \
 *     [--input-shape 3,160,160] [--input-type float32|uint8]
 * </pre>
 *
 * <p>The input column is binary, one sample per row as {@link TensorColumns} describes; its sample shape and
 * element type come from {@code --input-shape} and {@code --input-type}, else from the column's metadata (the
 * type by default float32). Each output becomes a float32 column of the same kind, named as the network's
 * output, its metadata recording the sample shape. Tensor columns are written without Parquet's dictionary
 * encoding, which no tensor repeats enough to pay for.
 */
public final class ScoringJob {
    /** What to score and how. */
    public record Options(String model, String input, String output, int batchSize, String inputColumn,
                          long[] inputShape, ElementType inputType) {
        public Options {
            if (batchSize < 1) throw new IllegalArgumentException("--batch-size " + batchSize + " must be at least 1");
        }

        /** Parses {@code --name value} pairs; {@code --model}, {@code --input} and {@code --output} are required. */
        public static Options parse(String... args) {
            Map<String, String> values = new LinkedHashMap<>(Map.of("--batch-size", "8", "--input-column", "input"));
            List<String> known = List.of("--model", "--input", "--output", "--batch-size", "--input-column",
                    "--input-shape", "--input-type");
            for (int i = 0; i < args.length; i += 2) {
                if (!known.contains(args[i])) throw new IllegalArgumentException("unknown option " + args[i]
                        + "; the options are " + known);
                if (i + 1 == args.length) throw new IllegalArgumentException(args[i] + " needs a value");
                values.put(args[i], args[i + 1]);
            }
            for (String required : known.subList(0, 3)) {
                if (!values.containsKey(required)) throw new IllegalArgumentException(required + " is required");
            }
            String shape = values.get("--input-shape");
            String type = values.get("--input-type");
            return new Options(values.get("--model"), values.get("--input"), values.get("--output"),
                    (int) Math.min(Integer.MAX_VALUE, number("--batch-size", values.get("--batch-size"))),
                    values.get("--input-column"),
                    shape == null ? null : Arrays.stream(shape.split(",", -1))
                            .mapToLong(d -> number("--input-shape", d)).toArray(),
                    type == null ? null : ElementType.of(type));
        }

        private static long number(String option, String text) {
            try {
                return Long.parseLong(text.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + ": " + text + " is not a whole number");
            }
        }
    }

    private ScoringJob() {}

    /** Runs the job in the session spark-submit (or the caller's environment) configures. */
    public static void main(String[] args) {
        Options options = Options.parse(args);
        SparkSession spark = SparkSession.builder().appName("odconv scoring").getOrCreate();
        try {
            run(spark, options);
        } finally {
            spark.stop();
        }
    }

    /** Reads {@code options.input()}, scores it, and writes {@code options.output()} (which must not exist). */
    public static void run(SparkSession spark, Options options) {
        Dataset<Row> scored = score(spark.read().parquet(options.input()), options);
        DataFrameWriter<Row> writer = scored.write().mode(SaveMode.ErrorIfExists);
        for (StructField field : scored.schema().fields()) {
            if (TensorColumns.sampleShape(field) != null) {
                writer = writer.option("parquet.enable.dictionary#" + field.name(), "false");
            }
        }
        writer.parquet(options.output());
    }

    /**
     * The scored rows of {@code inputs}, lazily (nothing runs until an action). Loads the network once on the
     * driver, to learn its outputs' names and shapes for the schema.
     *
     * @throws IllegalArgumentException when the input column is missing, not binary, or of unknown shape
     */
    public static Dataset<Row> score(Dataset<Row> inputs, Options options) {
        StructType schema = inputs.schema();
        int column = fieldIndex(schema, options.inputColumn());
        StructField field = schema.fields()[column];
        if (!(field.dataType() instanceof BinaryType)) {
            throw new IllegalArgumentException("input column " + field.name() + " is "
                    + field.dataType().simpleString() + ", expected binary (a tensor per row)");
        }
        long[] sampleShape = options.inputShape() != null ? options.inputShape() : TensorColumns.sampleShape(field);
        if (sampleShape == null || sampleShape.length != 3) {
            throw new IllegalArgumentException("input column " + field.name() + ": pass --input-shape C,H,W (its "
                    + "metadata records " + (sampleShape == null ? "no shape" : Arrays.toString(sampleShape)) + ")");
        }
        if (Arrays.stream(sampleShape).anyMatch(d -> d < 1)) {
            throw new IllegalArgumentException("input shape " + Arrays.toString(sampleShape)
                    + ": every dimension must be at least 1");
        }
        double batchBytes = Arrays.stream(sampleShape).asDoubleStream()
                .reduce((double) Float.BYTES * options.batchSize(), (a, b) -> a * b);
        if (batchBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "a batch of %d samples of "
                    + "shape %s takes %.3g bytes of floats, more than a buffer's 2 GiB; lower --batch-size",
                    options.batchSize(), Arrays.toString(sampleShape), batchBytes));
        }
        ElementType recordedType = TensorColumns.elementType(field);
        ElementType inputType = options.inputType() != null ? options.inputType()
                : recordedType != null ? recordedType : ElementType.FLOAT32;
        int threads = inputs.sparkSession().sparkContext().conf().getInt("spark.task.cpus", 1);
        Network network = ExecutorModels.get(new ExecutorModels.Key(options.model(), threads));
        List<StructField> fields = new ArrayList<>();
        for (StructField kept : schema.fields()) {
            if (kept != field) fields.add(kept);
        }
        for (Network.Output output : probe(network, sampleShape)) {
            if (Arrays.asList(schema.fieldNames()).contains(output.name()) && !output.name().equals(field.name())) {
                throw new IllegalArgumentException("the network's output " + output.name() + " has the name of an "
                        + "input column; rename the column");
            }
            long[] shape = output.shape();
            fields.add(TensorColumns.field(output.name(), Arrays.copyOfRange(shape, 1, shape.length)));
        }
        StructType scored = DataTypes.createStructType(fields);
        return TensorColumns.withMetadataOf(scored, inputs.mapPartitions(new ScorePartition(options.model(),
                options.batchSize(), schema, column, sampleShape, inputType), Encoders.row(scored)));
    }

    /** The network's outputs for one sample of zeros: their names and shapes. */
    private static List<Network.Output> probe(Network network, long[] sampleShape) {
        return network.run(Network.batchBuffer(1, sampleShape), Network.batchShape(1, sampleShape));
    }

    private static int fieldIndex(StructType schema, String name) {
        for (int i = 0; i < schema.fields().length; i++) {
            if (schema.fields()[i].name().equals(name)) return i;
        }
        throw new IllegalArgumentException("no column " + name + " among " + Arrays.toString(schema.fieldNames()));
    }
}
