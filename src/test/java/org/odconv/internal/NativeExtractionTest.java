package org.odconv.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.odconv.LogCapture;

/** Extraction of the jar's natives never hands out a file another user could have written, or a changed one. */
class NativeExtractionTest {
    /** A uid no test process runs as: Debian's nobody. */
    private static final int OTHER_UID = 65534;
    private static final byte[] PLANTED = "not the jar's library".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path base;

    private NativeExtraction.Manifest manifest;
    private int uid;

    @BeforeEach
    void readManifest() throws Exception {
        manifest = NativeExtraction.Manifest.fromJar();
        assertNotNull(manifest, "the test class path carries the natives (./mvnw builds them into target/classes)");
        uid = NativeExtraction.currentUid();
    }

    /** Every manifest file in folder has the jar's bytes: compared with the jar's resource, not the manifest. */
    private void assertJarCopy(Path folder) throws Exception {
        for (String file : manifest.sha256ByFile().keySet()) {
            byte[] expected = NativeExtraction.readResource(file);
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(expected),
                    MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(folder.resolve(file))), file);
        }
    }

    private Path userFolder() {
        return base.resolve(NativeExtraction.USER_FOLDER_PREFIX + uid);
    }

    @Test
    void extractsIntoAFolderOnlyThisUserCanWriteAndReusesIt() throws Exception {
        Path folder = NativeExtraction.extract(manifest, base);
        assertEquals(userFolder().resolve(manifest.key()), folder);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(userFolder())));
        assertJarCopy(folder);
        Object library = Files.getAttribute(folder.resolve(NativeLibrary.LIBRARY_FILE), "unix:ino");
        assertEquals(folder, NativeExtraction.extract(manifest, base));
        assertEquals(library, Files.getAttribute(folder.resolve(NativeLibrary.LIBRARY_FILE), "unix:ino"), "reused, not rewritten");
    }

    @Test
    void aChangedOrMissingFileIsExtractedAgain() throws Exception {
        Path folder = NativeExtraction.extract(manifest, base);
        Files.write(folder.resolve(NativeLibrary.LIBRARY_FILE), PLANTED);
        Files.delete(folder.resolve("libdnnl.so.3"));
        assertEquals(folder, NativeExtraction.extract(manifest, base));
        assertJarCopy(folder);
    }

    /** Through System.Logger (java.util.logging here): DEBUG says where, WARNING says why a copy was replaced. */
    @Test
    void whatExtractionDoesIsLogged() throws Exception {
        try (LogCapture log = new LogCapture()) {
            Path folder = NativeExtraction.extract(manifest, base);
            NativeExtraction.extract(manifest, base);
            Files.write(folder.resolve(NativeLibrary.LIBRARY_FILE), PLANTED);
            NativeExtraction.extract(manifest, base);
            assertEquals(List.of("FINE odconv: native libraries extracted into " + folder,
                    "FINE odconv: native libraries from " + folder,
                    "WARNING odconv: extracting the native libraries again: " + folder.resolve(NativeLibrary.LIBRARY_FILE)
                            + " has SHA-256 " + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(PLANTED))
                            + ", the jar's manifest says " + manifest.sha256ByFile().get(NativeLibrary.LIBRARY_FILE),
                    "FINE odconv: native libraries extracted into " + folder), log.lines());
        }
    }

    @Test
    void theManifestsHashesAreChecked() throws Exception {
        Path folder = NativeExtraction.extract(manifest, base);
        Files.write(folder.resolve(NativeLibrary.LIBRARY_FILE), PLANTED);
        String problem = NativeExtraction.verify(manifest, folder, uid).orElseThrow();
        String planted = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(PLANTED));
        assertEquals(folder.resolve(NativeLibrary.LIBRARY_FILE) + " has SHA-256 " + planted + ", the jar's manifest says "
                + manifest.sha256ByFile().get(NativeLibrary.LIBRARY_FILE), problem);
    }

    @Test
    void aFolderOthersCanWriteIsNeverUsed() throws Exception {
        Path planted = plantCopy();
        Files.setPosixFilePermissions(userFolder(), PosixFilePermissions.fromString("rwxrwxrwx"));
        assertUsesAPrivateFolderInstead(planted);
    }

    @Test
    void aSymbolicLinkInPlaceOfTheFolderIsNeverFollowed() throws Exception {
        Path elsewhere = Files.createDirectory(base.resolve("elsewhere"));
        Files.createDirectory(elsewhere.resolve(manifest.key()));
        Files.write(elsewhere.resolve(manifest.key()).resolve(NativeLibrary.LIBRARY_FILE), PLANTED);
        Files.createSymbolicLink(userFolder(), elsewhere);
        Path folder = NativeExtraction.extract(manifest, base);
        assertFalse(folder.startsWith(userFolder()), folder.toString());
        assertJarCopy(folder);
        assertArrayEquals(PLANTED, Files.readAllBytes(elsewhere.resolve(manifest.key()).resolve(NativeLibrary.LIBRARY_FILE)));
    }

    /** The attack of issue 12: another local user creates this user's folder first, with a library of their own. */
    @Test
    void aFolderAnotherUserCreatedIsNeverUsed() throws Exception {
        Assumptions.assumeTrue(uid == 0, "skipped: only root can create files owned by another user (uid " + uid + ")");
        Path planted = plantCopy();
        try (var paths = Files.walk(userFolder())) {
            for (Path path : (Iterable<Path>) paths::iterator) Files.setAttribute(path, "unix:uid", OTHER_UID);
        }
        assertUsesAPrivateFolderInstead(planted);
    }

    /** The user's folder with this build's folder in it, holding a planted libodconv.so (and the other files). */
    private Path plantCopy() throws Exception {
        Path folder = NativeExtraction.extract(manifest, base);
        Files.write(folder.resolve(NativeLibrary.LIBRARY_FILE), PLANTED);
        return folder;
    }

    private void assertUsesAPrivateFolderInstead(Path planted) throws Exception {
        Path folder = NativeExtraction.extract(manifest, base);
        assertNotEquals(planted, folder);
        assertFalse(folder.startsWith(userFolder()), folder + " is inside the untrusted " + userFolder());
        assertEquals(base, folder.getParent());
        assertEquals(uid, Files.getAttribute(folder, "unix:uid", LinkOption.NOFOLLOW_LINKS));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(folder)));
        assertJarCopy(folder);
        assertArrayEquals(PLANTED, Files.readAllBytes(planted.resolve(NativeLibrary.LIBRARY_FILE)), "the planted folder is left alone");
        assertTrue(NativeExtraction.verify(manifest, folder, uid).isEmpty());
        for (Map.Entry<String, String> file : manifest.sha256ByFile().entrySet())
            assertTrue(Files.isRegularFile(folder.resolve(file.getKey())), file.getKey());
    }
}
