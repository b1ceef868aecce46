"""Datasets: importing ground truth, snapshots (which media and label revisions form a
dataset) and exports."""
