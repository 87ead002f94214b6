package org.odconv.examples.spark;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Input files for trying the job without data of one's own, and for its tests and benchmark: rows of
 * (id, label, input) where input holds a sample of random values (float32 uniform in [-1, 1), or uint8 pixels)
 * drawn from a fixed seed and the row's id.
 */
public final class SyntheticInputs {
    private SyntheticInputs() {}

    /** Sample {@code id}'s bytes as its column holds them: the same for the same arguments, wherever made. */
    public static byte[] sample(long id, long[] sampleShape, long seed, ElementType type) {
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + id);
        int elements = Network.sampleElements(sampleShape);
        return switch (type) {
            case FLOAT32 -> {
                float[] values = new float[elements];
                for (int i = 0; i < elements; i++) values[i] = (float) (random.nextDouble() * 2 - 1);
                yield TensorColumns.encode(values);
            }
            case UINT8 -> {
                byte[] pixels = new byte[elements];
                random.nextBytes(pixels);
                yield pixels;
            }
        };
    }

    /**
     * Writes rows 0 to {@code count - 1} as a Parquet folder of {@code partitions} files, made on the executors
     * (nothing passes through the driver), row i holding id i, label "label" + i and {@link #sample} i. With
     * {@code describe}, the input column's metadata records the sample shape and element type.
     */
    public static Path write(SparkSession spark, Path folder, long count, long[] sampleShape, ElementType type,
                             int partitions, long seed, boolean describe) {
        long[] shape = sampleShape.clone();
        StructType schema = schema(describe ? TensorColumns.field("input", shape, type)
                : DataTypes.createStructField("input", DataTypes.BinaryType, false));
        Dataset<Row> rows = spark.range(0, count, 1, partitions)
                .mapPartitions((MapPartitionsFunction<Long, Row>) ids -> new Iterator<>() {
                    @Override
                    public boolean hasNext() {
                        return ids.hasNext();
                    }

                    @Override
                    public Row next() {
                        long id = ids.next();
                        return RowFactory.create(id, "label" + id, sample(id, shape, seed, type));
                    }
                }, Encoders.row(schema));
        TensorColumns.withMetadataOf(schema, rows).write().option("parquet.enable.dictionary#input", "false")
                .parquet(folder.toString());
        return folder;
    }

    /** The rows' schema: id (long), label (string), then the given input column. */
    public static StructType schema(StructField input) {
        return DataTypes.createStructType(List.of(
                DataTypes.createStructField("id", DataTypes.LongType, false),
                DataTypes.createStructField("label", DataTypes.StringType, false),
                input));
    }
}
