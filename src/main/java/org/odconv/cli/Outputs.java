package org.odconv.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.odconv.OdconvException;

/** Checks on a command's output file before anything runs. */
final class Outputs {
    private Outputs() {}

    /**
     * Refuses an output that is one of the command's input files (the same file, however the paths spell it:
     * another spelling, a hard link or a symbolic link), which writing the output would replace.
     */
    static void refuseReplacingAnInput(Path output, Path... inputs) throws IOException {
        if (output == null || !Files.exists(output)) return;
        for (Path input : inputs) {
            if (input != null && Files.exists(input) && Files.isSameFile(output, input)) {
                throw new OdconvException(output + ": the output is the same file as " + input
                        + ", which writing it would replace; choose another --output");
            }
        }
    }
}
