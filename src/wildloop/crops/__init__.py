"""Crop embeddings of predicted boxes: which embedder a project uses, stored vectors, index."""
