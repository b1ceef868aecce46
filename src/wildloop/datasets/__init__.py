"""Datasets: importing ground truth, snapshots and their exports.

A snapshot records which media and label revisions form a dataset.
"""
