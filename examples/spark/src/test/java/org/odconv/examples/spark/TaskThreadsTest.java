package org.odconv.examples.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** With {@code spark.task.cpus} = 2, each task's batches run on two threads, on one network per JVM. */
class TaskThreadsTest {
    private static SparkSession spark;
    @TempDir
    private static Path work;

    @BeforeAll
    static void startSpark() {
        ExecutorModels.closeAll();
        spark = LocalMode.session("odconv-spark-threads-test", 2, 2);
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) spark.stop();
        ExecutorModels.closeAll();
    }

    @Test
    void tasksRunTheirBatchesOnAsManyThreadsAsTheyHaveCores() {
        List<Integer> threads = spark.range(0, 8, 1, 4)
                .mapPartitions((MapPartitionsFunction<Long, Integer>) rows ->
                        List.of(ScorePartition.taskThreads()).iterator(), Encoders.INT())
                .collectAsList();
        assertEquals(List.of(2, 2, 2, 2), threads);

        Path inputs = SyntheticInputs.write(spark, work.resolve("in"), 24, TestInputs.YOLO_INPUT,
                ElementType.FLOAT32, 3, 3L, true);
        ScoringJob.run(spark, ScoringJob.Options.parse("--model", TestInputs.YOLO.toString(), "--input",
                inputs.toString(), "--output", work.resolve("out").toString()));
        assertEquals(Set.of(new ExecutorModels.Key(TestInputs.YOLO.toString(), 2)), ExecutorModels.loaded());
        assertEquals(24, spark.read().parquet(work.resolve("out").toString()).count());
    }
}
