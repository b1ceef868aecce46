"""Readers for labelled datasets (YOLO, COCO, COCO Camera Traps) into one neutral shape."""
