package org.odconv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPath;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The example projects are builds of their own (they depend on odconv as users do), so they restate versions
 * this project's pom.xml states: they must restate them alike.
 */
class ExampleProjectsTest {
    private static final List<Path> EXAMPLES = List.of(Path.of("examples/consumer/pom.xml"),
            Path.of("examples/spark/pom.xml"));
    private static final List<String> SHARED_PROPERTIES = List.of("onnxruntime.version", "junit.version");
    private static final XPath XPATH = XPathFactory.newInstance().newXPath();

    @Test
    void examplesBuildAgainstThisOdconvAndTheVersionsItUses() throws Exception {
        Document root = read(Path.of("pom.xml"));
        String version = XPATH.evaluate("/project/version", root);
        Map<String, String> rootProperties = properties(root);
        for (Path pom : EXAMPLES) {
            Document example = read(pom);
            Map<String, String> properties = properties(example);
            String odconv = XPATH.evaluate("/project/dependencies/dependency[groupId='org.odconv' and "
                    + "artifactId='odconv']/version", example);
            assertTrue(!odconv.isEmpty(), pom + " depends on org.odconv:odconv");
            assertEquals(version, resolve(odconv, properties), pom + ": the version of org.odconv:odconv");
            for (String shared : SHARED_PROPERTIES) {
                if (properties.containsKey(shared)) {
                    assertEquals(rootProperties.get(shared), properties.get(shared), pom + ": " + shared);
                }
            }
        }
    }

    private static Document read(Path pom) throws Exception {
        return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pom.toFile());
    }

    private static Map<String, String> properties(Document pom) throws Exception {
        Map<String, String> properties = new HashMap<>();
        NodeList nodes = (NodeList) XPATH.evaluate("/project/properties/*", pom, XPathConstants.NODESET);
        for (int i = 0; i < nodes.getLength(); i++) {
            Node node = nodes.item(i);
            properties.put(node.getNodeName(), node.getTextContent().strip());
        }
        return properties;
    }

    /** {@code ${name}} from the properties, anything else as it is. */
    private static String resolve(String value, Map<String, String> properties) {
        return value.startsWith("${") && value.endsWith("}")
                ? properties.getOrDefault(value.substring(2, value.length() - 1), value) : value;
    }
}
