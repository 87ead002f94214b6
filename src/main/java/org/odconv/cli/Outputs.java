package org.odconv.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.odconv.OdconvException;
import org.odconv.internal.OutputFiles;

/** Checks on a command's output files before anything runs, so that a failure destroys nothing. */
final class Outputs {
    private Outputs() {}

    /**
     * Refuses, before anything runs: an output that is one of the command's input files (the same file, however
     * the paths spell it: another spelling, a hard link or a symbolic link), which writing the output would
     * replace; two outputs that are the same file (the second would replace the first); and an output that
     * {@link OutputFiles#replace} could not write (not a regular file, or no such folder), so that it does not fail
     * the command after an earlier output has replaced its file.
     *
     * @param outputs option name to path (null: not given), as {@link #named} makes them
     * @param inputs  the input files (null entries: not given)
     */
    static void check(Map<String, Path> outputs, List<Path> inputs) throws IOException {
        List<Map.Entry<String, Path>> given = new ArrayList<>();
        for (Map.Entry<String, Path> output : outputs.entrySet()) {
            if (output.getValue() == null) continue;
            Path path = output.getValue();
            OutputFiles.checkReplaceable(path);
            for (Path input : inputs) {
                if (input != null && sameFile(path, input)) {
                    throw new OdconvException(path + ": the output is the same file as " + input
                            + ", which writing it would replace; choose another " + output.getKey());
                }
            }
            for (Map.Entry<String, Path> earlier : given) {
                if (sameFile(path, earlier.getValue())) {
                    throw new OdconvException(path + ": " + earlier.getKey() + " and " + output.getKey()
                            + " name the same file, which the second would replace; choose another " + output.getKey());
                }
            }
            given.add(output);
        }
    }

    /** Option names and paths, alternating ("--output", output, "--json", json), in the order they are written. */
    static Map<String, Path> named(Object... optionThenPath) {
        Map<String, Path> named = new LinkedHashMap<>();
        for (int i = 0; i < optionThenPath.length; i += 2) named.put((String) optionThenPath[i], (Path) optionThenPath[i + 1]);
        return named;
    }

    private static boolean sameFile(Path a, Path b) throws IOException {
        if (Files.exists(a) && Files.exists(b)) return Files.isSameFile(a, b);
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }
}
