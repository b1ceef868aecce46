"""Getting media into a project: scanning, probing, ingest and sequence grouping."""
