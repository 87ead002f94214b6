package org.odconv.jmh;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import org.odconv.Layout;
import org.odconv.bench.BenchmarkFixture;
import org.odconv.bench.BenchmarkShape;

/**
 * The bench command's cases under JMH: ODConv2d.forward against the static-convolution floor on the same
 * buffers. Run with {@code ./mvnw -Pjmh verify -DskipTests} (arguments for JMH in {@code -Djmh.args=...},
 * e.g. {@code "-p shape=S1 -prof gc"}; the gc profiler shows the Java allocation per forward).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms1g", "-Xmx1g"})
public class ODConvBenchmark {
    @Param({"S1", "S2", "S3", "S4", "S5"})
    public String shape;

    @Param({"1", "8"})
    public int batch;

    @Param({"NCHW", "NHWC"})
    public Layout layout;

    @Param({"0"})
    public int threads;

    private BenchmarkFixture fixture;

    @Setup(Level.Trial)
    public void setUp() {
        fixture = new BenchmarkFixture(BenchmarkShape.standard(shape), batch, layout, threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fixture.close();
    }

    @Benchmark
    public void odconv() {
        fixture.layer().forward(fixture.input(), fixture.output());
    }

    /**
     * Allocates nothing and runs about as long as a forward: what -prof gc reports for it (JMH's own
     * background allocation, tens of bytes per op at these speeds) is the zero line for the other two.
     */
    @Benchmark
    public void allocationControl() {
        org.openjdk.jmh.infra.Blackhole.consumeCPU(300_000);
    }

    @Benchmark
    public void floor() {
        fixture.floor().forward(fixture.input(), fixture.output());
    }
}
