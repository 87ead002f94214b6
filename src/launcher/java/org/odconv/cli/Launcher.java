package org.odconv.cli;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The runnable jar's entry point, compiled for Java 8 so that any JVM can load it (the rest of odconv needs Java
 * 22's FFM API, and an older JVM would otherwise stop at {@code UnsupportedClassVersionError}). On Java 22 or newer
 * it hands over to {@link Main}; on an older one it runs the same command line on the newest JDK 22+ installed in
 * the usual places, saying so on stderr, or says in one line that there is none and exits with 1.
 *
 * <p>Only Java 8 API here: this class is the one thing an old JVM runs.
 */
public final class Launcher {
    /** The oldest Java release odconv runs on: its FFM API is final from 22 on. */
    static final int REQUIRED_RELEASE = 22;
    /** Folders to search for JDKs instead of the usual ones (path-separator list of JDK homes or their parents). */
    static final String SEARCH_PROPERTY = "odconv.java.search";

    private Launcher() {}

    public static void main(String[] args) throws Throwable {
        int release = feature(System.getProperty("java.specification.version"));
        if (release >= REQUIRED_RELEASE) {
            try {
                Class.forName("org.odconv.cli.Main").getMethod("main", String[].class).invoke(null, (Object) args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            return;
        }
        String here = System.getProperty("java.home");
        Jdk newer = newestJdk();
        if (newer == null) {
            System.err.println("odconv: needs Java " + REQUIRED_RELEASE + " or newer, and this is Java " + release + " ("
                    + here + "); no JDK " + REQUIRED_RELEASE + "+ found in " + String.join(", ", searchFolders())
                    + ": install one (e.g. Temurin 25) and run its bin/java -jar, or name its folder with -D"
                    + SEARCH_PROPERTY + "=DIR");
            System.exit(1);
        }
        System.err.println("odconv: this is Java " + release + " (" + here + "), odconv needs " + REQUIRED_RELEASE
                + " or newer: running on Java " + newer.release + " at " + newer.home);
        System.exit(relaunch(newer, args));
    }

    /** The same command line (JVM options, class path, arguments) on the given JDK; its exit code. */
    private static int relaunch(Jdk jdk, String[] args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<String>();
        command.add(new File(jdk.home, "bin" + File.separator + "java").getPath());
        command.add("--enable-native-access=ALL-UNNAMED");  // what the jar's manifest says, for -cp too
        try {
            command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        } catch (LinkageError noManagementModule) {
            // A runtime without java.management: the JVM options stay behind, the command itself is complete.
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("org.odconv.cli.Main");
        Collections.addAll(command, args);
        Process process = new ProcessBuilder(command).inheritIO().start();
        return process.waitFor();
    }

    private static final class Jdk {
        final File home;
        final int release;

        Jdk(File home, int release) {
            this.home = home;
            this.release = release;
        }
    }

    /** The JDK of the highest release of at least REQUIRED_RELEASE in the search folders, or null. */
    private static Jdk newestJdk() {
        Jdk best = null;
        for (String folder : searchFolders()) {
            List<File> candidates = new ArrayList<File>();
            candidates.add(new File(folder));
            File[] children = new File(folder).listFiles();
            if (children != null) Collections.addAll(candidates, children);
            for (File home : candidates) {
                int release = release(home);
                if (release >= REQUIRED_RELEASE && new File(home, "bin" + File.separator + "java").canExecute()
                        && (best == null || release > best.release)) {
                    best = new Jdk(home, release);
                }
            }
        }
        return best;
    }

    private static List<String> searchFolders() {
        String configured = System.getProperty(SEARCH_PROPERTY);
        List<String> folders = new ArrayList<String>();
        if (configured != null) {
            for (String folder : configured.split(File.pathSeparator)) if (!folder.isEmpty()) folders.add(folder);
            return folders;
        }
        String javaHome = System.getenv("JAVA_HOME");
        if (javaHome != null && !javaHome.isEmpty()) folders.add(javaHome);
        String home = System.getProperty("user.home");
        Collections.addAll(folders, "/usr/lib/jvm", "/usr/java", "/opt/java", "/opt", home + "/.sdkman/candidates/java",
                home + "/.jdks");
        return folders;
    }

    /** A JDK home's feature release from its {@code release} file (JAVA_VERSION="25.0.1"), or 0. */
    private static int release(File home) {
        File file = new File(home, "release");
        if (!file.isFile()) return 0;
        try {
            for (String line : Files.readAllLines(file.toPath(), StandardCharsets.UTF_8)) {
                if (line.startsWith("JAVA_VERSION=")) return feature(line.substring(13).replace("\"", "").trim());
            }
        } catch (IOException | RuntimeException e) {
            return 0;  // unreadable: not a candidate
        }
        return 0;
    }

    /** The feature release of a version string: 8 for "1.8.0_392", 17 for "17.0.9", 25 for "25". */
    static int feature(String version) {
        if (version == null) return 0;
        String[] parts = version.split("[.+_-]");
        try {
            int first = Integer.parseInt(parts[0]);
            return first == 1 && parts.length > 1 ? Integer.parseInt(parts[1]) : first;
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
