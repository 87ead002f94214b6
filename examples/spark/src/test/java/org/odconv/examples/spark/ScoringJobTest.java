package org.odconv.examples.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.ODConvModel;

/**
 * The job on Spark in local mode, two task slots, against the same networks run in this process without Spark:
 * every output of every row must be the same, bit for bit.
 */
class ScoringJobTest {
    private static SparkSession spark;
    @TempDir
    private static Path work;

    @BeforeAll
    static void startSpark() {
        spark = LocalMode.session("odconv-spark-test", 2, 1);
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) spark.stop();
        ExecutorModels.closeAll();
    }

    @Test
    void wholeNetworkOutputsEqualASingleProcessRunBitForBit() {
        Path inputs = SyntheticInputs.write(spark, work.resolve("yolo-in"), 300, TestInputs.YOLO_INPUT,
                ElementType.FLOAT32, 7, 20261130L, false);
        Path outputs = work.resolve("yolo-out");
        ExecutorModels.closeAll();
        int loadsBefore = ExecutorModels.loads();

        ScoringJob.run(spark, ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input",
                inputs.toString(), "--output", outputs.toString(), "--batch-size", "8", "--input-shape", "3,64,64"));

        // The driver's look at the outputs and every task of the 7 partitions share one load: one JVM here.
        assertEquals(1, ExecutorModels.loads() - loadsBefore, "network loads in this JVM");
        assertMatchesSingleProcess(spark, inputs, outputs, TestInputs.YOLO, TestInputs.YOLO_INPUT,
                ElementType.FLOAT32,
                List.of("p8", "p16"), 300);
    }

    @Test
    void tensorColumnsAreWrittenWithoutADictionaryEvenWhereOneWouldPay() {
        Path inputs = work.resolve("same-in");
        List<Row> rows = new ArrayList<>();
        byte[] zeros = new byte[(int) (TestInputs.YOLO_INPUT[0] * TestInputs.YOLO_INPUT[1] * TestInputs.YOLO_INPUT[2])];
        for (long id = 0; id < 32; id++) rows.add(RowFactory.create(id, "same", zeros));
        spark.createDataFrame(rows, SyntheticInputs.schema(TensorColumns.field("input", TestInputs.YOLO_INPUT,
                ElementType.UINT8))).coalesce(1).write().parquet(inputs.toString());
        Path outputs = work.resolve("same-out");

        ScoringJob.run(spark, ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input",
                inputs.toString(), "--output", outputs.toString()));

        // Every row's outputs are the same, as are the labels: Parquet keeps its dictionary where allowed.
        assertEquals(Set.of("label"), dictionaryEncodedColumns(outputs));
    }

    @Test
    void uint8ImagesAreDividedBy255OnTheWayIn() {
        Path inputs = SyntheticInputs.write(spark, work.resolve("pixels-in"), 40, TestInputs.YOLO_INPUT,
                ElementType.UINT8, 3, 11L, true);
        Path outputs = work.resolve("pixels-out");

        ScoringJob.run(spark, ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input",
                inputs.toString(), "--output", outputs.toString(), "--batch-size", "6"));

        assertMatchesSingleProcess(spark, inputs, outputs, TestInputs.YOLO, TestInputs.YOLO_INPUT,
                ElementType.UINT8,
                List.of("p8", "p16"), 40);
    }

    @Test
    void odconvLayerFileTakesItsInputShapeFromTheColumnMetadata() throws IOException {
        Path model = work.resolve("demo.safetensors");
        try (InputStream demo = ODConvModel.class.getResourceAsStream("/org/odconv/demo/model.safetensors")) {
            Files.copy(demo, model);
        }
        Path inputs = SyntheticInputs.write(spark, work.resolve("demo-in"), 120, TestInputs.DEMO_INPUT,
                ElementType.FLOAT32, 3, 7L, true);
        Path outputs = work.resolve("demo-out");

        ScoringJob.run(spark, ScoringJob.Options.parse("--model", model.toString(), "--input", inputs.toString(),
                "--output", outputs.toString(), "--batch-size", "5"));

        assertMatchesSingleProcess(spark, inputs, outputs, model, TestInputs.DEMO_INPUT, ElementType.FLOAT32,
                List.of(LayerChain.OUTPUT), 120);
    }

    @Test
    void aRowOfTheWrongSizeFailsTheJobNamingTheRow() {
        Path inputs = work.resolve("short-in");
        long[] shape = TestInputs.YOLO_INPUT;
        List<Row> rows = new ArrayList<>();
        for (long id = 0; id < 20; id++) {
            int floats = id == 13 ? 100 : (int) (shape[0] * shape[1] * shape[2]);
            rows.add(RowFactory.create(id, "label" + id, TensorColumns.encode(new float[floats])));
        }
        spark.createDataFrame(rows, SyntheticInputs.schema(DataTypes.createStructField("input", DataTypes.BinaryType,
                false))).repartition(2).write().parquet(inputs.toString());

        Exception failure = assertThrows(Exception.class, () -> ScoringJob.run(spark, ScoringJob.Options.parse(
                "--model", TestInputs.YOLO.toString(), "--input", inputs.toString(), "--output",
                work.resolve("short-out").toString(), "--input-shape", "3,64,64")));
        String messages = messages(failure);
        assertTrue(messages.contains("row (id=13, label=label13): its tensor has 400 bytes, expected 49152 "
                + "(float32 samples of shape [3, 64, 64])"), messages);
    }

    @Test
    void aMissingOrUnshapedInputColumnIsRefusedOnTheDriver() {
        Path inputs = SyntheticInputs.write(spark, work.resolve("unshaped-in"), 4, TestInputs.YOLO_INPUT,
                ElementType.FLOAT32, 1, 1L, false);
        Dataset<Row> rows = spark.read().parquet(inputs.toString());

        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> ScoringJob.score(rows,
                ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input", "-", "--output", "-",
                        "--input-column", "pixels")));
        assertEquals("no column pixels among [id, label, input]", missing.getMessage());
        IllegalArgumentException unshaped = assertThrows(IllegalArgumentException.class, () -> ScoringJob.score(rows,
                ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input", "-", "--output", "-")));
        assertEquals("input column input: pass --input-shape C,H,W (its metadata records no shape)",
                unshaped.getMessage());
        IllegalArgumentException notBinary = assertThrows(IllegalArgumentException.class, () -> ScoringJob.score(rows,
                ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input", "-", "--output", "-",
                        "--input-column", "label")));
        assertEquals("input column label is string, expected binary (a tensor per row)",
                notBinary.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> ScoringJob.score(rows,
                ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input", "-", "--output", "-",
                        "--input-shape", "3,0,64")));
        assertEquals("input shape [3, 0, 64]: every dimension must be at least 1", empty.getMessage());
        IllegalArgumentException huge = assertThrows(IllegalArgumentException.class, () -> ScoringJob.score(rows,
                ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input", "-", "--output", "-",
                        "--input-shape", "3,64,64", "--batch-size", "50000")));
        assertEquals("a batch of 50000 samples of shape [3, 64, 64] takes 2.46e+09 bytes of floats, more than a "
                + "buffer's 2 GiB; lower --batch-size", huge.getMessage());
    }

    /** Reads both files and runs every input row alone, batch 1, on a network of this process's own. */
    static void assertMatchesSingleProcess(SparkSession spark, Path inputs, Path outputs, Path model,
                                           long[] sampleShape, ElementType type, List<String> outputNames,
                                           int rowCount) {
        long[] batchOfOne = {1, sampleShape[0], sampleShape[1], sampleShape[2]};
        Map<Long, Row> scored = new HashMap<>();
        Dataset<Row> written = spark.read().parquet(outputs.toString());
        assertEquals(List.of("id", "label", outputNames.get(0)), List.of(written.schema().fieldNames()).subList(0, 3));
        for (Row row : written.collectAsList()) {
            assertEquals(null, scored.put(row.getLong(0), row), "row id " + row.getLong(0) + " twice");
        }
        assertEquals(rowCount, scored.size());
        List<Row> originals = spark.read().parquet(inputs.toString()).collectAsList();
        try (Network alone = ExecutorModels.open(model, 1)) {
            for (Row original : originals) {
                long id = original.getLong(0);
                Row row = scored.get(id);
                assertEquals(original.getString(1), row.getString(1), "label of id " + id);
                byte[] input = (byte[]) original.get(2);
                List<Network.Output> expected = alone.run(networkInput(input, type), batchOfOne);
                for (int o = 0; o < outputNames.size(); o++) {
                    Network.Output output = expected.get(o);
                    assertEquals(outputNames.get(o), output.name());
                    StructField field = written.schema().apply(output.name());
                    long[] shape = output.shape();
                    assertArrayEquals(Arrays.copyOfRange(shape, 1, shape.length),
                            TensorColumns.sampleShape(field), "shape recorded for " + output.name());
                    assertSameBits(id, output.name(), TensorColumns.encode(output.values()),
                            (byte[]) row.getAs(output.name()));
                }
            }
        }
    }

    private static void assertSameBits(long id, String output, byte[] expected, byte[] actual) {
        if (Arrays.equals(expected, actual)) return;
        float[] e = TensorColumns.decode(expected);
        float[] a = TensorColumns.decode(actual);
        assertEquals(e.length, a.length, "id " + id + " output " + output + " length");
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToRawIntBits(e[i]) != Float.floatToRawIntBits(a[i])) {
                fail("id " + id + " output " + output + " element " + i + ": single process " + e[i]
                        + ", Spark " + a[i]);
            }
        }
    }

    /** The network's input for a column's bytes, written out here apart from the job's own conversion. */
    private static FloatBuffer networkInput(byte[] bytes, ElementType type) {
        if (type == ElementType.FLOAT32) {
            return ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.LITTLE_ENDIAN).put(bytes).flip()
                    .asFloatBuffer();
        }
        FloatBuffer floats = ByteBuffer.allocateDirect(bytes.length * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        for (byte pixel : bytes) floats.put(Byte.toUnsignedInt(pixel) / 255.0f);
        return floats.flip();
    }

    /** The columns of a Parquet folder that any of its files stores with a dictionary. */
    private static Set<String> dictionaryEncodedColumns(Path folder) {
        Set<String> columns = new TreeSet<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".parquet")).toList()) {
                try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(
                        new org.apache.hadoop.fs.Path(file.toUri()), new Configuration()))) {
                    for (BlockMetaData block : reader.getFooter().getBlocks()) {
                        for (ColumnChunkMetaData column : block.getColumns()) {
                            if (column.hasDictionaryPage()) columns.add(column.getPath().toDotString());
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return columns;
    }

    private static String messages(Throwable t) {
        StringBuilder all = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) all.append(c.getMessage()).append('\n');
        return all.toString();
    }
}
