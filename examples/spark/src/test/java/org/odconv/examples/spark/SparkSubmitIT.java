package org.odconv.examples.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.ODConvModel;

/**
 * The job jar as a cluster gets it: run through spark-submit's entry point ({@code SparkSubmit}) in a JVM of its
 * own, on Spark's jars alone (odconv and ONNX Runtime come from the job jar), the model shipped with
 * {@code --files} and named by its file name only, so the executor finds Spark's copy.
 */
class SparkSubmitIT {
    @TempDir
    Path work;

    @Test
    void theJobJarScoresUnderSparkSubmitWithTheModelShippedByFiles() throws Exception {
        Path jobJar = Path.of(System.getProperty("odconv.spark.job.jar"));
        assertTrue(Files.isRegularFile(jobJar), jobJar + " (built by package)");
        SparkSession spark = LocalMode.session("odconv-spark-submit-it", 2, 1);
        try {
            Path inputs = SyntheticInputs.write(spark, work.resolve("in"), 50, TestInputs.YOLO_INPUT,
                    ElementType.UINT8, 4, 5L, true);
            Path outputs = work.resolve("out");
            Path cwd = Files.createDirectories(work.resolve("cwd"));  // where yolo.onnx is not

            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(Arrays.asList(System.getProperty("odconv.spark.jvm.options").trim().split("\\s+")));
            command.addAll(List.of("-cp", sparkClassPath(), "org.apache.spark.deploy.SparkSubmit",
                    "--master", "local[2]", "--conf", "spark.ui.enabled=false",
                    "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
                    "--class", ScoringJob.class.getName(), "--files", TestInputs.YOLO.toString(),
                    jobJar.toString(),
                    "--model", TestInputs.YOLO.getFileName().toString(), "--input", inputs.toString(),
                    "--output", outputs.toString(), "--batch-size", "4"));
            Process process = new ProcessBuilder(command).directory(cwd.toFile()).redirectErrorStream(true)
                    .redirectOutput(work.resolve("log.txt").toFile()).start();
            assertTrue(process.waitFor(300, TimeUnit.SECONDS), "spark-submit timed out");
            String log = Files.readString(work.resolve("log.txt"));
            assertEquals(0, process.exitValue(), log);

            ScoringJobTest.assertMatchesSingleProcess(spark, inputs, outputs, TestInputs.YOLO, TestInputs.YOLO_INPUT,
                    ElementType.UINT8, List.of("p8", "p16"), 50);
        } finally {
            spark.stop();
            ExecutorModels.closeAll();
        }
    }

    /** This JVM's class path without what the job jar carries: odconv, ONNX Runtime and this project. */
    private static String sparkClassPath() {
        String odconv = ClasspathTest.jarOf(ODConvModel.class).toString();
        String onnxRuntime = ClasspathTest.jarOf(ai.onnxruntime.OrtEnvironment.class).toString();
        String job = ClasspathTest.jarOf(ScoringJob.class).toString();  // failsafe tests the packaged jar
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> entry.endsWith(".jar"))
                .filter(entry -> !List.of(odconv, onnxRuntime, job).contains(entry))
                .collect(Collectors.joining(File.pathSeparator));
    }
}
