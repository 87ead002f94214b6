package org.odconv.examples.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.MetadataBuilder;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * How a tensor per row is stored: a binary column of one sample's elements ({@link ElementType}: float32
 * little-endian, or uint8 pixels) in the sample's row-major (CHW) order. The column's metadata (kept in the
 * Parquet files Spark writes) records the sample's shape under {@value #SHAPE} and its element type under
 * {@value #DTYPE}, so files describe themselves.
 */
public final class TensorColumns {
    /** The column metadata key of a sample's shape (batch excluded), an array of longs. */
    public static final String SHAPE = "shape";
    /** The column metadata key of the element type ({@link ElementType#label()}). */
    public static final String DTYPE = "dtype";
    static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private TensorColumns() {}

    /** A non-null binary column holding float32 samples of {@code sampleShape}. */
    public static StructField field(String name, long[] sampleShape) {
        return field(name, sampleShape, ElementType.FLOAT32);
    }

    /** A non-null binary column holding samples of {@code sampleShape} whose elements are {@code type}. */
    public static StructField field(String name, long[] sampleShape, ElementType type) {
        Metadata metadata = new MetadataBuilder()
                .putLongArray(SHAPE, sampleShape)
                .putString(DTYPE, type.label())
                .build();
        return DataTypes.createStructField(name, DataTypes.BinaryType, false, metadata);
    }

    /** The sample shape a column's metadata records, or null when it records none. */
    public static long[] sampleShape(StructField field) {
        return field.metadata().contains(SHAPE) ? field.metadata().getLongArray(SHAPE) : null;
    }

    /** The element type a column's metadata records, or null when it records none. */
    public static ElementType elementType(StructField field) {
        return field.metadata().contains(DTYPE) ? ElementType.of(field.metadata().getString(DTYPE)) : null;
    }

    /**
     * {@code rows} with the column metadata of {@code schema} put back: Spark's row encoder, which
     * {@code mapPartitions} needs, keeps the columns' types and drops their metadata.
     */
    static Dataset<Row> withMetadataOf(StructType schema, Dataset<Row> rows) {
        for (StructField field : schema.fields()) {
            if (field.metadata().json().length() > 2) rows = rows.withMetadata(field.name(), field.metadata());
        }
        return rows;
    }

    /** One sample's bytes. */
    public static byte[] encode(float[] values) {
        return encode(FloatBuffer.wrap(values));
    }

    /** The remaining floats of {@code values} as one sample's bytes. */
    static byte[] encode(FloatBuffer values) {
        byte[] bytes = new byte[Math.multiplyExact(values.remaining(), Float.BYTES)];
        ByteBuffer.wrap(bytes).order(ORDER).asFloatBuffer().put(values);
        return bytes;
    }

    /** One sample's values. */
    public static float[] decode(byte[] bytes) {
        FloatBuffer view = ByteBuffer.wrap(bytes).order(ORDER).asFloatBuffer();
        float[] values = new float[view.remaining()];
        view.get(values);
        return values;
    }
}
