"""Uploads from field devices: resumable, verified by sha256, ingested and processed on arrival."""
