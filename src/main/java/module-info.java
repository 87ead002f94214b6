/**
 * odconv: ODConv (Omni-Dimensional Dynamic Convolution) inference for the JVM. The API is {@code org.odconv}
 * (layers, models, tensors, devices), {@code org.odconv.io} (safetensors files) and {@code org.odconv.ort}
 * (the ONNX Runtime operator); the rest is the library's own.
 */
module org.odconv {
    requires com.fasterxml.jackson.databind;
    requires static com.microsoft.onnxruntime;  // org.odconv.ort and the onnx command, with ONNX Runtime present
    requires static info.picocli;               // the command line, in the runnable jar only

    exports org.odconv;
    exports org.odconv.io;
    exports org.odconv.ort;

    opens org.odconv.cli to info.picocli;       // picocli sets the commands' option fields reflectively
}
