"""Degrades a rendered plate the way a camera and the plate detector do.

The plate is put on a random ground (a car body: flat colour, gradient, noise), seen in
perspective and slightly rotated, cut out by a box that is a little too loose or too tight
(as the detector's boxes and the engine's margin crops are), then made small, blurred,
noisy, compressed, darkened or lit by glare. Every step's strength is random; the output is
what the recognizer is trained on: a BGR crop, as the engine hands it.
"""

from __future__ import annotations

import random

import numpy as np

from edge.engine.geometry import Image


def camera_crop(plate_rgb: np.ndarray, rng: random.Random) -> Image:
    """A BGR crop of ``plate_rgb`` as the engine would cut it out of a camera frame."""
    import cv2

    plate = cv2.cvtColor(plate_rgb, cv2.COLOR_RGB2BGR)
    h, w = plate.shape[:2]
    margin = 0.35
    scene_w, scene_h = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    scene = _ground(scene_h, scene_w, rng)
    x0, y0 = (scene_w - w) // 2, (scene_h - h) // 2
    corners = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]], np.float32)
    skew = rng.uniform(0.0, 0.12)
    moved = corners + np.array(
        [[rng.uniform(-skew, skew) * w, rng.uniform(-skew, skew) * h] for _ in range(4)],
        np.float32,
    )
    moved = _rotated(moved, rng.gauss(0.0, 3.0))
    source = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, moved)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (scene_w, scene_h))
    warped = cv2.warpPerspective(plate, matrix, (scene_w, scene_h), flags=cv2.INTER_LINEAR)
    scene[mask > 0] = warped[mask > 0]
    crop = _detector_box(scene, moved, rng)
    return _degraded(crop, rng)


def _ground(height: int, width: int, rng: random.Random) -> np.ndarray:
    """A car-body-like ground: a colour, a vertical gradient and some texture."""
    base = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.3), height, dtype=np.float32)
    ground = base[None, None, :] * ramp[:, None, None]
    ground = np.broadcast_to(ground, (height, width, 3)).copy()
    ground += np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(2, 20), ground.shape)
    return np.clip(ground, 0, 255).astype(np.uint8)


def _rotated(points: np.ndarray, degrees: float) -> np.ndarray:
    centre = points.mean(axis=0)
    angle = np.deg2rad(degrees)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32
    )
    return ((points - centre) @ rotation.T + centre).astype(np.float32)


def _detector_box(scene: np.ndarray, corners: np.ndarray, rng: random.Random) -> np.ndarray:
    """The plate's bounding box with each side moved in or out, as a detector errs."""
    x1, y1 = corners.min(axis=0)
    x2, y2 = corners.max(axis=0)
    w, h = x2 - x1, y2 - y1
    left = x1 - w * rng.uniform(-0.01, 0.12)
    right = x2 + w * rng.uniform(-0.01, 0.12)
    top = y1 - h * rng.uniform(-0.06, 0.25)
    bottom = y2 + h * rng.uniform(-0.06, 0.25)
    height, width = scene.shape[:2]
    cols = slice(int(max(0, left)), int(min(width, right)))
    rows = slice(int(max(0, top)), int(min(height, bottom)))
    return scene[rows, cols]


def _degraded(crop: np.ndarray, rng: random.Random) -> np.ndarray:
    """Small, blurred, lit, noisy and compressed, each with a random strength."""
    import cv2

    # A person can still read every plate made here: the smallest size leaves characters
    # about 9 pixels high (two-line plates, squarer, keep more rows), and blur scales with it.
    squarish = crop.shape[1] < 2.6 * crop.shape[0]
    low = 28 if squarish else 16
    height = rng.choice([rng.randint(low, low + 14), rng.randint(26, 60), rng.randint(40, 110)])
    width = max(8, int(crop.shape[1] * height / max(crop.shape[0], 1)))
    image = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.4:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, max(0.4, height / 45)))
    elif rng.random() < 0.1:
        image = _motion_blur(image, rng, 3 + height // 40)
    image = _lighting(image.astype(np.float32), rng)
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(0, 9), image.shape)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        quality = rng.randint(25, 95)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return image


def _motion_blur(image: np.ndarray, rng: random.Random, longest: int) -> np.ndarray:
    import cv2

    length = rng.randint(3, max(3, longest))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    centre = (length / 2 - 0.5, length / 2 - 0.5)
    rotation = cv2.getRotationMatrix2D(centre, rng.uniform(0, 180), 1.0)
    turned = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(image, -1, turned / max(float(turned.sum()), 1e-6))


def _lighting(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Contrast, brightness, gamma, and now and then a shadow band, glare or night."""
    height, width = image.shape[:2]
    image = image * rng.uniform(0.6, 1.3) + rng.uniform(-40, 40)
    if rng.random() < 0.25:  # a shadow across part of the plate
        edge = rng.uniform(0.2, 0.8) * width
        cols = np.arange(width, dtype=np.float32)
        shade = np.where(cols < edge, rng.uniform(0.35, 0.7), 1.0).astype(np.float32)
        image = image * (shade[None, :, None] if rng.random() < 0.5 else shade[None, ::-1, None])
    if rng.random() < 0.15:  # glare: a bright blob
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        radius = rng.uniform(0.2, 0.6) * width
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        image = image + blob[:, :, None] * rng.uniform(40, 110)
    if rng.random() < 0.15:  # night: dark and flat
        image = image * rng.uniform(0.35, 0.6)
    image = np.clip(image, 0, 255)
    gamma = rng.uniform(0.7, 1.4)
    return 255.0 * (image / 255.0) ** gamma
