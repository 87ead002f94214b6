package org.odconv.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

/**
 * odconv in several class loaders of one JVM at once (web-app redeploys, plugin hosts, session clusters): each
 * loads the native library and runs forwards, while the others are alive and running too.
 */
class ClassLoadersTest {
    /** odconv's classes and the libraries its command line needs, in a class loader of their own. */
    private static URLClassLoader isolatedOdconv() throws Exception {
        List<URL> urls = new ArrayList<>();
        for (Class<?> c : List.of(org.odconv.ODConv2d.class, picocli.CommandLine.class,
                com.fasterxml.jackson.databind.ObjectMapper.class, com.fasterxml.jackson.core.JsonFactory.class,
                com.fasterxml.jackson.annotation.JsonProperty.class)) {
            urls.add(c.getProtectionDomain().getCodeSource().getLocation());
        }
        return new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
    }

    /** The demo (a two-layer model against PyTorch's output) in the given class loader; its output. */
    private static String demo(ClassLoader loader) throws Exception {
        Class<?> main = Class.forName("org.odconv.cli.Main", true, loader);
        assertTrue(main.getClassLoader() == loader, "odconv's own copy, not the application's");
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = (Integer) main.getMethod("execute", String[].class, PrintWriter.class, PrintWriter.class)
                .invoke(null, new String[] {"demo", "--iterations", "20"}, new PrintWriter(out, true),
                        new PrintWriter(err, true));
        assertEquals(0, code, err.toString());
        return out.toString();
    }

    @Test
    void twoMoreClassLoadersRunForwardsAtTheSameTime() throws Exception {
        NativeLibrary.load();  // the application class loader holds the library file first
        try (URLClassLoader first = isolatedOdconv(); URLClassLoader second = isolatedOdconv()) {
            assertNotSame(Class.forName("org.odconv.internal.NativeLibrary", false, first),
                    Class.forName("org.odconv.internal.NativeLibrary", false, second));
            ExecutorService threads = Executors.newFixedThreadPool(2);
            try {
                Future<String> a = threads.submit(() -> demo(first));
                Future<String> b = threads.submit(() -> demo(second));
                assertTrue(a.get().contains(": MATCH"), a.get());
                assertTrue(b.get().contains(": MATCH"), b.get());
            } finally {
                threads.shutdown();
            }
            assertTrue(demo(first).contains(": MATCH"), "a loader keeps working after the other's forwards");
        }
    }
}
