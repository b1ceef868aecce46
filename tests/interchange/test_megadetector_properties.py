"""Property tests for the MegaDetector validator: valid documents pass, any single
corruption is reported at its location."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wildloop.interchange import megadetector

unit = st.floats(0, 1, allow_nan=False)


@st.composite
def detection(draw: st.DrawFn, categories: list[str]) -> dict[str, Any]:
    x, y = draw(st.floats(0, 0.9)), draw(st.floats(0, 0.9))
    w = draw(st.floats(0.01, 1 - x))
    h = draw(st.floats(0.01, 1 - y))
    return {"category": draw(st.sampled_from(categories)), "conf": draw(unit), "bbox": [x, y, w, h]}


@st.composite
def document(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=6), min_size=1, max_size=4))
    categories = {str(i + 1): n for i, n in enumerate(names)}
    files = draw(st.lists(st.text("abc/xyz", min_size=1, max_size=8), unique=True, max_size=6))
    images = []
    for f in files:
        if draw(st.booleans()) and draw(st.booleans()):
            images.append({"file": f + ".jpg", "failure": "Failure image access"})
        else:
            dets = draw(st.lists(detection(list(categories)), max_size=4))
            images.append({"file": f + ".jpg", "detections": dets})
    return {"info": {"format_version": "1.4"}, "detection_categories": categories, "images": images}


@given(document())
@settings(max_examples=60, deadline=None)
def test_generated_valid_documents_pass(doc: dict[str, Any]) -> None:
    assert megadetector.problems(doc) == []


CORRUPTIONS = {
    "conf": lambda d: d.__setitem__("conf", 1.5),
    "bbox": lambda d: d.__setitem__("bbox", [0.5, 0.5, 0.9, 0.1]),
    "category": lambda d: d.__setitem__("category", "999"),
    "size": lambda d: d.__setitem__("bbox", [0.1, 0.1]),
}


@given(document(), st.sampled_from(sorted(CORRUPTIONS)), st.data())
@settings(max_examples=60, deadline=None)
def test_any_single_corruption_is_located(
    doc: dict[str, Any], field: str, data: st.DataObject
) -> None:
    spots = [
        (i, j)
        for i, image in enumerate(doc["images"])
        for j, _ in enumerate(image.get("detections") or [])
    ]
    if not spots:
        return
    i, j = data.draw(st.sampled_from(spots))
    broken = copy.deepcopy(doc)
    CORRUPTIONS[field](broken["images"][i]["detections"][j])
    found = megadetector.problems(broken)
    assert found and all(p.startswith(f"images[{i}].detections[{j}]") for p in found)
