/**
 * The module descriptor of the library jar (org.odconv:odconv), which differs from src/main/java/module-info.java
 * in what the jar leaves out: Jackson is inside under odconv's own package (so no Jackson module is required),
 * and the command line and benchmark harness are not there (so nothing is opened to picocli).
 */
module org.odconv {
    requires static com.microsoft.onnxruntime;  // org.odconv.ort, where ONNX Runtime is present

    exports org.odconv;
    exports org.odconv.io;
    exports org.odconv.ort;
}
