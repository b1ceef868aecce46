"""wildloop: review, retrain and reprocess wildlife detection models in one loop."""

__version__ = "0.1.0"
