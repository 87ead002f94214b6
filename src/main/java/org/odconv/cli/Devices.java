package org.odconv.cli;

/** The --device values this build runs. */
final class Devices {
    private Devices() {}

    static void requireCpu(String device) {
        if (!"cpu".equals(device)) {
            throw new IllegalArgumentException("device \"" + device + "\" is not supported by this build; use cpu");
        }
    }
}
