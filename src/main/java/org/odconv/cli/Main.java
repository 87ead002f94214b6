package org.odconv.cli;

import java.io.PrintWriter;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import org.odconv.Odconv;
import org.odconv.internal.Printable;

/** The {@code odconv} command line: {@code run}, {@code info}, {@code demo}, {@code bench}, {@code onnx}. */
@Command(name = "odconv", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Runs ODConv layers exported from PyTorch on the CPU through oneDNN, or on NVIDIA GPUs through"
                + " cuDNN (--device cuda); whole ONNX networks with ODConv layers through ONNX Runtime (onnx).",
        subcommands = {RunCommand.class, InfoCommand.class, DemoCommand.class, BenchCommand.class, OnnxCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * Runs the command line on {@link System#out} and {@link System#err}, then exits the JVM with its exit
     * code: 0 on success, 1 when a command fails, 2 when the arguments are wrong.
     *
     * @param args the command-line arguments
     */
    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line; every error is one line on {@code err} and a non-zero exit code. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((ex, arguments) -> {
            err.println("odconv: " + oneLine(ex.getMessage()) + " (see: odconv "
                    + ex.getCommandLine().getCommandName() + " --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            err.println("odconv: " + oneLine(ex.getMessage() != null ? ex.getMessage() : ex.toString()));
            return 1;
        });
        int code;
        try {
            code = cli.execute(args);
        } catch (OutOfMemoryError e) {  // picocli hands Errors on; one line all the same
            err.println("odconv: out of memory (" + oneLine(String.valueOf(e.getMessage()))
                    + "); give the JVM more with -Xmx, or use a smaller input");
            code = 1;
        } catch (Error e) {
            err.println("odconv: " + oneLine(e.toString()));
            code = 1;
        }
        out.flush();
        err.flush();
        return code;
    }

    /** One printable line: line breaks joined with "; ", then {@link Printable} for what came from files. */
    static String oneLine(String message) {
        return Printable.of(message.replaceAll("\\s*[\\r\\n]+\\s*", "; ").strip());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"odconv " + Odconv.version() + ", " + Odconv.backend()};
        }
    }
}
