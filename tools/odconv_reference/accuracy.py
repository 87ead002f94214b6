"""How close odconv's output must be to PyTorch's, wherever the tools compare the two."""

import numpy as np

RELATIVE_TOLERANCE = 1e-4  # of max(1, max|expected|): relative for large outputs, absolute for small ones


def error_and_tolerance(expected, actual):
    """(max |actual - expected|, computed in float64, and the tolerance it must not exceed)."""
    expected = np.asarray(expected, dtype=np.float64)
    error = float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected)))
    return error, RELATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(expected))))
