"""Exchange formats for predictions made elsewhere or read elsewhere (MegaDetector JSON)."""
