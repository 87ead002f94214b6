package org.odconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.odconv.bindings.odconv_config_t;
import org.odconv.bindings.odconv_h;
import org.odconv.bindings.odconv_weights_t;
import org.odconv.internal.NativeCalls;
import org.odconv.internal.NativeLibrary;

/**
 * The committed jextract-shaped bindings against the header they were generated from and the library
 * compiled from it. Fails when either changed without regenerating (bindings/regenerate.sh).
 */
class BindingsDriftTest {
    private static final Path HEADER = Path.of("native/include/odconv.h");
    private static final Pattern FUNCTION =
            Pattern.compile("ODCONV_API\\s+([^;]*?)\\b(odconv_\\w+)\\s*\\(([^;]*?)\\);", Pattern.DOTALL);
    /** Integer macros, with an optional unsigned suffix (ODCONV_FLAG_ALLOW_TF32 is 1u). */
    private static final Pattern DEFINE = Pattern.compile("#define\\s+(ODCONV_\\w+)\\s+(-?\\d+)[uU]?\\b");
    private static final Pattern ENUMERATOR = Pattern.compile("\\b(ODCONV_[A-Z_]+)\\s*=\\s*(-?\\d+)");

    private static final Pattern HANDLE_TYPEDEF = Pattern.compile("typedef\\s+struct\\s+\\w+\\s*\\*\\s*(\\w+)\\s*;");
    private static final Path INCLUDES = Path.of("bindings/includes.txt");

    private static String header;
    private static Set<String> handleTypes;

    @BeforeAll
    static void readHeader() throws IOException {
        NativeLibrary.load();
        header = Files.readString(HEADER).replaceAll("(?s)/\\*.*?\\*/", " ");
        handleTypes = new TreeSet<>();
        Matcher m = HANDLE_TYPEDEF.matcher(header);
        while (m.find()) handleTypes.add(m.group(1));
    }

    /** "function name" -> carriers of its return value (or "void") followed by its parameters. */
    private static Map<String, List<String>> headerFunctions() {
        Map<String, List<String>> functions = new LinkedHashMap<>();
        Matcher m = FUNCTION.matcher(header);
        while (m.find()) {
            List<String> signature = new ArrayList<>();
            signature.add(carrier(m.group(1)));
            String params = m.group(3).strip();
            if (!params.equals("void") && !params.isEmpty()) {
                for (String param : params.split(",")) {
                    String type = param.strip().replaceAll("\\w+$", "");  // drop the parameter name
                    signature.add(carrier(type));
                }
            }
            functions.put(m.group(2), signature);
        }
        return functions;
    }

    private static String carrier(String cType) {
        String t = cType.replace("const", "").strip();
        if (t.contains("*") || handleTypes.contains(t)) return "pointer";
        return switch (t) {
            case "void" -> "void";
            case "int32_t", "uint32_t", "int", "odconv_status" -> "int";
            case "int64_t" -> "long";
            case "float" -> "float";
            case "double" -> "double";
            default -> throw new AssertionError("BindingsDriftTest does not know the C type '" + t + "'; extend carrier()");
        };
    }

    private static String carrier(MemoryLayout layout) {
        if (layout instanceof AddressLayout) return "pointer";
        return ((ValueLayout) layout).carrier().getName();
    }

    @Test
    void everyHeaderFunctionHasAMatchingBinding() throws ReflectiveOperationException {
        Map<String, List<String>> functions = headerFunctions();
        assertTrue(functions.keySet().containsAll(List.of("odconv_layer_create", "odconv_layer_forward_async", "odconv_copy")),
                "header parse found only " + functions.keySet());
        for (Map.Entry<String, List<String>> f : functions.entrySet()) {
            Method descriptorMethod = odconv_h.class.getMethod(f.getKey() + "$descriptor");
            FunctionDescriptor descriptor = (FunctionDescriptor) descriptorMethod.invoke(null);
            List<String> bound = new ArrayList<>();
            bound.add(descriptor.returnLayout().map(BindingsDriftTest::carrier).orElse("void"));
            descriptor.argumentLayouts().forEach(l -> bound.add(carrier(l)));
            assertEquals(f.getValue(), bound, f.getKey() + ": binding (return, params...) differs from the header");
        }
    }

    @Test
    void everyBindingHasAHeaderDeclaration() {
        Set<String> bound = new TreeSet<>();
        for (Method method : odconv_h.class.getDeclaredMethods()) {
            if (Modifier.isPublic(method.getModifiers()) && method.getName().endsWith("$descriptor")) {
                bound.add(method.getName().substring(0, method.getName().length() - "$descriptor".length()));
            }
        }
        Set<String> declared = new TreeSet<>(headerFunctions().keySet());
        assertEquals(declared, bound, "functions bound but not declared, or declared but not bound");
    }

    /** Resolving each binding's address proves the compiled library exports what the header declares. */
    @Test
    void everyHeaderFunctionIsExportedByTheLibrary() throws ReflectiveOperationException {
        for (String function : headerFunctions().keySet()) {
            MemorySegment address = (MemorySegment) odconv_h.class.getMethod(function + "$address").invoke(null);
            assertFalse(address.equals(MemorySegment.NULL), function + " resolves to NULL");
        }
    }

    /** Every handle typedef is bound as a pointer layout, as jextract generates it. */
    @Test
    void everyHandleTypedefHasAPointerLayout() throws ReflectiveOperationException {
        assertTrue(handleTypes.contains("odconv_stream_t"), "header parse found only " + handleTypes);
        for (String typedef : handleTypes) {
            Object layout = odconv_h.class.getField(typedef).get(null);
            assertTrue(layout instanceof AddressLayout, typedef + " is bound as " + layout);
        }
    }

    /**
     * bindings/regenerate.sh keeps only the symbols listed in includes.txt: a declaration missing there would
     * vanish from the bindings at the next regeneration, so every function, handle typedef and constant of
     * the header must be listed, and nothing else.
     */
    @Test
    void includesListEveryHeaderSymbol() throws IOException {
        Set<String> listed = new TreeSet<>();
        for (String line : Files.readAllLines(INCLUDES)) {
            String[] parts = line.strip().split("\\s+");
            // the C standard typedefs (int32_t, ...) are listed too; they are not the header's own
            if (parts.length == 2 && parts[1].toLowerCase(java.util.Locale.ROOT).startsWith("odconv_")) {
                listed.add(parts[0] + " " + parts[1]);
            }
        }
        Set<String> expected = new TreeSet<>();
        headerFunctions().keySet().forEach(f -> expected.add("--include-function " + f));
        handleTypes.forEach(t -> expected.add("--include-typedef " + t));
        headerConstants().keySet().forEach(c -> expected.add("--include-constant " + c));
        expected.addAll(List.of("--include-struct odconv_config", "--include-struct odconv_weights",
                "--include-typedef odconv_config_t", "--include-typedef odconv_weights_t"));
        assertEquals(expected, listed, INCLUDES + " differs from the header's symbols");
    }

    /** "CONSTANT" -> value, for the integer macros and enumerators of the header. */
    private static Map<String, Integer> headerConstants() {
        Map<String, Integer> constants = new LinkedHashMap<>();
        for (Pattern p : List.of(DEFINE, ENUMERATOR)) {
            Matcher m = p.matcher(header);
            while (m.find()) constants.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        return constants;
    }

    @Test
    void constantsHaveTheHeaderValues() throws ReflectiveOperationException {
        Map<String, Integer> constants = headerConstants();
        assertTrue(constants.keySet().containsAll(List.of("ODCONV_DEVICE_CUDA", "ODCONV_COPY_DEVICE_TO_DEVICE",
                "ODCONV_FLAG_ALLOW_TF32")), "header parse found only " + constants.keySet());
        for (Map.Entry<String, Integer> c : constants.entrySet()) {
            Object value = odconv_h.class.getMethod(c.getKey()).invoke(null);
            assertEquals(c.getValue(), value, c.getKey());
        }
    }

    @Test
    void configLayoutMatchesTheLibrary() {
        assertStructMatches("odconv_config_t", odconv_config_t.layout());
    }

    @Test
    void weightsLayoutMatchesTheLibrary() {
        assertStructMatches("odconv_weights_t", odconv_weights_t.layout());
    }

    @Test
    void unknownStructIsReportedAsSuch() {
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(-1, odconv_h.odconv_abi_struct_size(arena.allocateFrom("odconv_nothing_t")));
        }
    }

    private static void assertStructMatches(String name, GroupLayout layout) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
            assertEquals(odconv_h.odconv_abi_struct_size(cName), layout.byteSize(), name + " size");
            List<MemoryLayout> fields = layout.memberLayouts().stream().filter(l -> !(l instanceof PaddingLayout)).toList();
            assertEquals(odconv_h.odconv_abi_field_count(cName), fields.size(), name + " field count");
            long offset = 0;
            int index = 0;
            for (MemoryLayout member : layout.memberLayouts()) {
                if (!(member instanceof PaddingLayout)) {
                    Optional<String> fieldName = member.name();
                    assertFalse(fieldName.isEmpty(), name + " has an unnamed field");
                    String cField = NativeCalls.cString(odconv_h.odconv_abi_field_name(cName, index));
                    assertEquals(cField, fieldName.get(), name + " field " + index + " name");
                    assertEquals(odconv_h.odconv_abi_field_offset(cName, arena.allocateFrom(cField)), offset,
                            name + "." + cField + " offset");
                    index++;
                }
                offset += member.byteSize();
            }
        }
    }
}
