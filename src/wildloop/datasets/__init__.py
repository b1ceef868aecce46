"""Dataset snapshots (which media and label revisions form a dataset) and their exports."""
