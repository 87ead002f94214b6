package org.odconv;

/**
 * How a layer's parameters are named in its PyTorch {@code state_dict()}: the two ODConv implementations
 * name the attention trunk differently; every other parameter has the same name in both.
 */
public enum NamingScheme {
    /** The YOLO-style seed module: the trunk is a YOLOv5 {@code Conv}, so {@code attention.fc.conv.weight}
     * and {@code attention.fc.bn.*}. */
    SEED,
    /** The official OSVAI module: {@code attention.fc.weight} and {@code attention.bn.*}. */
    OSVAI
}
