"""Curation of the human labels themselves: finding the ones most likely wrong."""
