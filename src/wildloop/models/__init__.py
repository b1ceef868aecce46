"""Model files as a service: registering a detector (reading it, deriving its ONNX export,
storing both, recording the version) and loading a registered version's runtime.

It sits above the registry (versions, artifacts, aliases: bookkeeping) and inference (reading,
exporting and running model files), so neither of those imports the other.
"""
