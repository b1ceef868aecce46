"""Datasets: importing ground truth, snapshots and exports."""
