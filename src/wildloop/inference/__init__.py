"""The one inference pipeline: decode ahead, letterbox, batch, run, NMS, normalised boxes.

Every caller (ingest-time processing, reprocessing, evaluation, shadow runs) goes through
:class:`wildloop.inference.pipeline.Pipeline`; model runtimes sit behind the small
:class:`wildloop.inference.runtime.DetectorRuntime` protocol.
"""
