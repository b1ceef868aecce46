"""A deterministic generator of camera-trap-like photos with exact boxes.

Used by tests, benchmarks and the demo, where no labelled camera-trap set can be downloaded.
Each camera has a fixed textured background (trail cameras do not move); bursts show one or
two animals walking across the frame, some frames of a burst are empty, some bursts are empty
triggers (wind, grass); night frames look like infrared (grey, vignetted, grainy). Every class
has its own body plan (size, shape, colour, antlers, spots, striped tail) so a detector can
learn them. The same seed always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from wildloop.domain.boxes import Box

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_MAKE = 0x010F
_MODEL = 0x0110


@dataclass(frozen=True)
class BodyPlan:
    """How one class looks: fractions of image height, RGB colour and markings."""

    length: float
    height: float
    color: tuple[int, int, int]
    antlers: bool
    spots: bool
    striped_tail: bool
    leg_ratio: float


@dataclass(frozen=True)
class Animal:
    class_name: str
    box: Box
    # Which animal of its burst this is (the same animal keeps it across frames).
    walker: int = 0


Placed = tuple["Animal", dict[str, float]]


@dataclass(frozen=True)
class Walker:
    """An animal crossing the frame during one burst."""

    name: str
    scale: float
    direction: float
    x0: float
    ground: float
    speed: float
    exits: bool


@dataclass(frozen=True)
class Frame:
    """One generated photo and its truth."""

    file_name: str
    camera: str
    sequence_key: str
    frame_num: int
    captured_at: datetime
    night: bool
    width: int
    height: int
    animals: tuple[Animal, ...]
    jpeg: bytes = field(repr=False)


def body_plan(class_name: str, index: int) -> BodyPlan:
    """A stable body plan per class; well-known deer-project classes get recognisable ones."""
    known = {
        "buck": BodyPlan(0.42, 0.22, (139, 90, 43), True, False, False, 0.55),
        "doe": BodyPlan(0.38, 0.20, (160, 110, 60), False, False, False, 0.60),
        "fawn": BodyPlan(0.22, 0.13, (175, 120, 70), False, True, False, 0.65),
        "cattle": BodyPlan(0.55, 0.30, (35, 35, 35), False, True, False, 0.40),
        "pig": BodyPlan(0.36, 0.18, (200, 150, 150), False, False, False, 0.25),
        "raccoon": BodyPlan(0.18, 0.10, (120, 120, 125), False, False, True, 0.30),
    }
    if class_name in known:
        return known[class_name]
    digest = hashlib.sha256(f"{index}:{class_name}".encode()).digest()
    return BodyPlan(
        length=0.15 + digest[0] / 255 * 0.40,
        height=0.08 + digest[1] / 255 * 0.18,
        color=(40 + digest[2] % 200, 40 + digest[3] % 200, 40 + digest[4] % 200),
        antlers=digest[5] % 4 == 0,
        spots=digest[6] % 3 == 0,
        striped_tail=digest[7] % 3 == 0,
        leg_ratio=0.25 + digest[8] / 255 * 0.4,
    )


class SceneGenerator:
    """Generates bursts of frames for a set of cameras; deterministic for a given seed."""

    def __init__(
        self,
        classes: list[str],
        seed: int = 0,
        size: tuple[int, int] = (640, 480),
        cameras: int = 3,
        quality: int = 85,
    ) -> None:
        self.classes = classes
        self.plans = {name: body_plan(name, i) for i, name in enumerate(classes)}
        self.size = size
        self.quality = quality
        self.rng = np.random.default_rng(seed)
        self.cameras = [f"cam{i + 1:02d}" for i in range(cameras)]
        self._backgrounds = {cam: self._background(i) for i, cam in enumerate(self.cameras)}
        self._clock = {
            cam: datetime(2024, 5, 1, 6, 0, 0) + timedelta(hours=3 * i)
            for i, cam in enumerate(self.cameras)
        }

    # --- public ---------------------------------------------------------------------------

    def bursts(
        self, count: int, frames: tuple[int, int] = (3, 6), empty_rate: float = 0.15
    ) -> Iterator[list[Frame]]:
        """Yield ``count`` bursts, each a list of frames of one camera."""
        for n in range(count):
            camera = self.cameras[n % len(self.cameras)]
            yield self._burst(camera, int(self.rng.integers(frames[0], frames[1] + 1)), empty_rate)

    def write(
        self,
        out_dir: Path,
        bursts: int,
        frames: tuple[int, int] = (3, 6),
        empty_rate: float = 0.15,
    ) -> list[Frame]:
        """Write bursts as JPEGs under ``out_dir/<camera>/`` and return their truth."""
        written: list[Frame] = []
        for burst in self.bursts(bursts, frames, empty_rate):
            for frame in burst:
                path = out_dir / frame.file_name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(frame.jpeg)
                written.append(frame)
        return written

    # --- scene parts ----------------------------------------------------------------------

    def _burst(self, camera: str, length: int, empty_rate: float) -> list[Frame]:
        start = self._clock[camera] + timedelta(minutes=int(self.rng.integers(20, 600)))
        self._clock[camera] = start
        night = not 6 <= start.hour < 19
        key = f"{camera}/{start.isoformat(timespec='seconds')}"
        empty_burst = self.rng.random() < empty_rate
        walkers = [] if empty_burst else self._walkers()
        out = []
        for i in range(length):
            when = start + timedelta(seconds=2 * i)
            animals = [] if empty_burst else self._place(walkers, i, length)
            image = self._render(camera, night, animals, i)
            name = f"{camera}/{camera}_{when:%Y%m%d_%H%M%S}_{i:02d}.jpg"
            out.append(
                Frame(
                    file_name=name,
                    camera=camera,
                    sequence_key=key,
                    frame_num=i,
                    captured_at=when,
                    night=night,
                    width=self.size[0],
                    height=self.size[1],
                    animals=tuple(a for a, _ in animals),
                    jpeg=self._encode(image, camera, when),
                )
            )
        return out

    def _walkers(self) -> list[Walker]:
        count = 1 if self.rng.random() < 0.75 else 2
        names = self.rng.choice(self.classes, size=count, replace=True)
        return [
            Walker(
                name=str(name),
                scale=float(self.rng.uniform(0.7, 1.3)),
                direction=1.0 if self.rng.random() < 0.5 else -1.0,
                x0=float(self.rng.uniform(0.05, 0.6)),
                ground=float(self.rng.uniform(0.55, 0.9)),
                speed=float(self.rng.uniform(0.03, 0.08)),
                # The animal leaves the frame on the burst's last frame now and then.
                exits=bool(self.rng.random() < 0.3),
            )
            for name in names
        ]

    def _place(self, walkers: list[Walker], i: int, length: int) -> list[Placed]:
        width, height = self.size
        placed = []
        for n, w in enumerate(walkers):
            if w.exits and i == length - 1:
                continue
            plan = self.plans[w.name]
            body_l = plan.length * height * w.scale
            body_h = plan.height * height * w.scale
            geometry = {
                "cx": (w.x0 + w.direction * w.speed * i) * width,
                "base": w.ground * height,
                "body_l": body_l,
                "body_h": body_h,
                "leg": body_h * plan.leg_ratio * 1.6,
                "head": body_h * 0.55,
                "dir": w.direction,
            }
            left, top, right, bottom = _extent(plan, geometry)
            x0, y0 = max(0.0, left), max(0.0, top)
            x1, y1 = min(float(width), right), min(float(height), bottom)
            if x1 - x0 < 4 or y1 - y0 < 4:
                continue
            box = Box.from_pixels(x0, y0, x1 - x0, y1 - y0, width, height)
            placed.append((Animal(w.name, box, n), geometry))
        return placed

    def _render(self, camera: str, night: bool, animals: list[Placed], i: int) -> Image.Image:
        day_bg, night_bg = self._backgrounds[camera]
        image = (night_bg if night else day_bg).copy()
        draw = ImageDraw.Draw(image)
        for animal, g in animals:
            self._draw_animal(draw, self.plans[animal.class_name], g, night)
        if night:
            grain = self.rng.normal(0, 9, (self.size[1], self.size[0])).astype(np.int16)
            arr = np.asarray(image.convert("L"), dtype=np.int16) + grain
            image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).convert("RGB")
        else:
            shift = int(self.rng.integers(-12, 13))
            arr = np.clip(np.asarray(image, dtype=np.int16) + shift, 0, 255).astype(np.uint8)
            image = Image.fromarray(arr)
        return image

    def _draw_animal(
        self, draw: ImageDraw.ImageDraw, plan: BodyPlan, g: dict[str, float], night: bool
    ) -> None:
        color = plan.color
        if night:  # IR: fur glows grey, eyes shine
            grey = int(110 + 0.3 * sum(color) / 3)
            color = (grey, grey, grey)
        cx, base, bl, bh, leg, head, d = (
            g["cx"],
            g["base"],
            g["body_l"],
            g["body_h"],
            g["leg"],
            g["head"],
            g["dir"],
        )
        body_top = base - leg - bh
        draw.ellipse([cx - bl / 2, body_top, cx + bl / 2, base - leg], fill=color)
        leg_w = max(2, int(bl * 0.06))
        for fx in (-0.35, -0.2, 0.2, 0.35):
            lx = cx + fx * bl
            draw.line([lx, base - leg - bh * 0.2, lx, base], fill=color, width=leg_w)
        hx, hy = _head_centre(g)
        draw.ellipse([hx - head / 2, hy - head / 2, hx + head / 2, hy + head / 2], fill=color)
        eye = max(1.5, head * 0.08)
        eye_color = (255, 255, 255) if night else (15, 15, 15)
        ex = hx + d * head * 0.2
        draw.ellipse([ex - eye, hy - eye, ex + eye, hy + eye], fill=eye_color)
        if plan.antlers:
            for side in (-0.25, 0.25):
                ax = hx + side * head
                draw.line(
                    [ax, hy - head * 0.4, ax - side * head, hy - head * 1.1],
                    fill=(90, 70, 40) if not night else (200, 200, 200),
                    width=leg_w,
                )
        if plan.spots:
            spot = max(2, bh * 0.09)
            for k in range(6):
                sx = cx - bl * 0.3 + k * bl * 0.12
                sy = body_top + bh * (0.3 + 0.25 * (k % 2))
                draw.ellipse([sx - spot, sy - spot, sx + spot, sy + spot], fill=(235, 230, 220))
        tail_x = cx - d * bl / 2
        if plan.striped_tail:
            for k in range(4):
                tx = tail_x - d * k * bh * 0.18
                shade = (40, 40, 40) if k % 2 else (200, 200, 200)
                draw.ellipse(
                    [tx - bh * 0.1, body_top + bh * 0.2, tx + bh * 0.1, body_top + bh * 0.45],
                    fill=shade,
                )

    def _background(self, index: int) -> tuple[Image.Image, Image.Image]:
        """A fixed textured scene per camera: day colour and an IR night version."""
        width, height = self.size
        noise = np.zeros((height, width))
        for octave in range(1, 6):
            cells = 2**octave
            grid = self.rng.random((cells + 1, cells + 1))
            layer = Image.fromarray((grid * 255).astype(np.uint8)).resize(
                (width, height), Image.Resampling.BICUBIC
            )
            noise += np.asarray(layer, dtype=np.float64) / 255 / octave
        noise = (noise - noise.min()) / (np.ptp(noise) + 1e-9)
        sky_line = int(height * (0.2 + 0.1 * (index % 3)))
        palette = [(70, 100, 45), (110, 95, 60), (85, 110, 70), (130, 120, 80)][index % 4]
        rgb = np.empty((height, width, 3))
        for c in range(3):
            rgb[..., c] = palette[c] * (0.6 + 0.8 * noise)
        rgb[:sky_line] = rgb[:sky_line] * 0.5 + np.array([150, 170, 190]) * 0.5
        day = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(1)
        )
        yy, xx = np.mgrid[0:height, 0:width]
        vignette = 1 - 0.75 * (((xx - width / 2) / width) ** 2 + ((yy - height / 2) / height) ** 2)
        grey = np.asarray(day.convert("L"), dtype=np.float64) * 0.55 * vignette
        night = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).convert("RGB")
        return day, night

    def _encode(self, image: Image.Image, camera: str, when: datetime) -> bytes:
        exif = Image.Exif()
        exif[_MAKE] = "WildloopSim"
        exif[_MODEL] = f"Trail {camera}"
        exif.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = when.strftime("%Y:%m:%d %H:%M:%S")
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=self.quality, exif=exif)
        return buffer.getvalue()


def _head_centre(g: dict[str, float]) -> tuple[float, float]:
    body_top = g["base"] - g["leg"] - g["body_h"]
    return g["cx"] + g["dir"] * (g["body_l"] / 2 + g["head"] * 0.35), body_top - g["head"] * 0.2


def _extent(plan: BodyPlan, g: dict[str, float]) -> tuple[float, float, float, float]:
    """The exact pixel bounds (left, top, right, bottom) of everything _draw_animal paints."""
    cx, bl, bh, head, d = g["cx"], g["body_l"], g["body_h"], g["head"], g["dir"]
    body_top = g["base"] - g["leg"] - bh
    hx, hy = _head_centre(g)
    xs = [cx - bl / 2, cx + bl / 2, hx - head / 2, hx + head / 2]
    top = min(body_top, hy - head / 2)
    if plan.antlers:
        top = min(top, hy - head * 1.1)
    if plan.striped_tail:
        tail_x = cx - d * bl / 2
        xs += [tail_x - d * 3 * bh * 0.18 - bh * 0.1, tail_x - d * 3 * bh * 0.18 + bh * 0.1]
    return min(xs), top, max(xs), g["base"]
