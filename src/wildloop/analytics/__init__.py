"""Numbers from photos: activity, detection rates and occupancy from labels or predictions."""
