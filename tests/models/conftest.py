"""Fixtures for the Models page and the gated alias commands: the engine's tiny detectors."""

from tests.engine.conftest import untrained_onnx, untrained_pt  # noqa: F401 (fixtures)
