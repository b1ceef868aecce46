"""One evaluator for every model on a frozen test snapshot, comparisons and their images."""
