"""Training detectors as jobs: start-weight choice, the Ultralytics adapter, triggers."""
