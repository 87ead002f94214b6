package org.odconv.examples.spark;

import org.apache.spark.sql.SparkSession;

/** Spark in this JVM, for tests and benchmarks: nothing listens beyond this machine, no web UI. */
public final class LocalMode {
    private LocalMode() {}

    /**
     * @param name     the application's name
     * @param cores    task slots times {@code taskCpus}: {@code local[cores]}
     * @param taskCpus {@code spark.task.cpus}, the cores (and odconv threads) of each task
     */
    public static SparkSession session(String name, int cores, int taskCpus) {
        return SparkSession.builder()
                .master("local[" + cores + "]")
                .appName(name)
                .config("spark.task.cpus", taskCpus)
                .config("spark.ui.enabled", false)
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", cores)
                .getOrCreate();
    }
}
