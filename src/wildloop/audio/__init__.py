"""Audio: recordings cut into windows, embedded once, classified by a trained head."""
