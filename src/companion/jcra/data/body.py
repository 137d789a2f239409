"""A synthetic articulated person: plausible proportions and joint angles, drawn as coloured limbs.

The body is a 2-D, camera-facing stick model with thick limbs. Segment lengths are fractions of
the stature ``H`` taken from standard anthropometric tables (Drillis & Contini / Winter,
"Biomechanics and Motor Control of Human Movement"): upper arm 0.186 H, forearm 0.146 H, thigh
0.245 H, shank 0.246 H, hip joint to shoulder line 0.29 H, shoulder-joint half width about
0.115 H, hip-joint half width 0.085 H, head (neck to crown) about 0.18 H. Each person gets its
own +-8 % variation per segment group, and each segment a foreshortening factor in [0.8, 1]
(an out-of-plane tilt). Joint angles are drawn from ranges a standing, walking or waving person
reaches: torso lean +-25 deg, shoulder abduction -15..170 deg, elbow flexion 0..150 deg, hip
abduction -8..35 deg, knee bend 0..60 deg, head tilt +-20 deg, head yaw +-40 deg (moves the
face points sideways and narrows the shoulders; beyond 25 deg the far ear is hidden, v = 1).

Persons face the camera, so a person's left side is on the image's right; the face (eyes, nose
dots) tells the network the orientation, and a horizontal flip with a left/right label swap
maps a valid person to a valid person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .skeleton import SUPERSET_KEYPOINTS

_J = {name: k for k, name in enumerate(SUPERSET_KEYPOINTS)}

# Limbs drawn as thick segments: (joint a, joint b, width as a fraction of H, colour part).
_LEG_LIMBS = (
    ("left_hip", "left_knee", 0.075, "trousers"),
    ("left_knee", "left_ankle", 0.060, "trousers"),
    ("right_hip", "right_knee", 0.075, "trousers"),
    ("right_knee", "right_ankle", 0.060, "trousers"),
)
_ARM_LIMBS = (
    ("left_shoulder", "left_elbow", 0.055, "shirt"),
    ("left_elbow", "left_wrist", 0.045, "skin"),
    ("right_shoulder", "right_elbow", 0.055, "shirt"),
    ("right_elbow", "right_wrist", 0.045, "skin"),
)
_SKIN_TONES = np.array(
    [[255, 224, 196], [234, 192, 134], [198, 134, 66], [141, 85, 36], [92, 51, 23], [241, 194, 125]], dtype=np.float64
)


@dataclass
class Body:
    """One person in its own pixel frame.

    Attributes:
        joints: float64[19, 2] (x, y) pixel positions in ``SUPERSET_KEYPOINTS`` order.
        self_occluded: bool[19]; joints hidden by the person's own head (the far ear).
        stature: H in pixels.
        colours: name -> uint8[3] for "skin", "shirt", "trousers".
        head_radii: (horizontal, vertical) radius of the head ellipse in pixels.
        head_centre: float64[2].
    """

    joints: np.ndarray
    self_occluded: np.ndarray
    stature: float
    colours: dict[str, tuple[int, int, int]]
    head_radii: tuple[float, float]
    head_centre: np.ndarray

    def shifted(self, offset: np.ndarray) -> Body:
        """The same body translated by ``offset`` (float64[2])."""
        return Body(
            self.joints + offset,
            self.self_occluded,
            self.stature,
            self.colours,
            self.head_radii,
            self.head_centre + offset,
        )

    def snapped(self) -> Body:
        """The body with joints and head centre moved to whole pixel indices.

        PIL truncates drawing coordinates to pixel indices, so a disc meant for x lands on pixel
        floor(x) (centre floor(x) + 0.5 in continuous coordinates). Drawing a snapped body keeps
        every joint exactly at the centre of what is drawn for it.
        """
        return Body(
            np.floor(self.joints),
            self.self_occluded,
            self.stature,
            self.colours,
            self.head_radii,
            np.floor(self.head_centre),
        )

    def extent(self) -> tuple[np.ndarray, np.ndarray]:
        """(min xy, max xy) of everything drawn, limb widths and head included."""
        pad = 0.06 * self.stature
        rx, ry = self.head_radii
        head_lo = self.head_centre - (rx, ry)
        head_hi = self.head_centre + (rx, ry)
        lo = np.minimum(self.joints.min(axis=0) - pad, head_lo)
        hi = np.maximum(self.joints.max(axis=0) + pad, head_hi)
        return lo, hi


def _direction(angle_deg: float) -> np.ndarray:
    """Unit vector at ``angle_deg`` from straight down, positive towards the image's right."""
    a = np.deg2rad(angle_deg)
    return np.array([np.sin(a), np.cos(a)])


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(20, 236, size=3))


def sample_body(rng: np.random.Generator, stature: float) -> Body:
    """Draw a random person of height ``stature`` pixels with the mid-hip point at the origin."""
    H = float(stature)
    scale = {part: H * rng.uniform(0.92, 1.08) for part in ("torso", "arm", "leg", "width")}

    def length(fraction: float, part: str) -> float:
        return fraction * scale[part] * rng.uniform(0.8, 1.0)  # foreshortening

    lean = float(np.clip(rng.normal(0.0, 9.0), -25.0, 25.0))
    yaw = rng.uniform(-40.0, 40.0)
    yaw_width = np.cos(np.deg2rad(yaw))
    up = _direction(180.0 + lean)
    right = _direction(90.0 + lean)  # towards the image's right = the person's left

    joints = np.zeros((len(SUPERSET_KEYPOINTS), 2))
    pelvis = np.zeros(2)
    shoulder_mid = pelvis + up * 0.29 * scale["torso"]
    shoulder_half = 0.115 * scale["width"] * max(yaw_width, 0.6)
    hip_half = 0.085 * scale["width"] * max(yaw_width, 0.6)
    joints[_J["left_shoulder"]] = shoulder_mid + right * shoulder_half
    joints[_J["right_shoulder"]] = shoulder_mid - right * shoulder_half
    joints[_J["left_hip"]] = pelvis + right * hip_half
    joints[_J["right_hip"]] = pelvis - right * hip_half
    joints[_J["neck"]] = shoulder_mid + up * 0.02 * H

    for side, sign in (("left", 1.0), ("right", -1.0)):
        # Arms: mostly hanging or half raised, sometimes overhead; elbows bend either way.
        abduction = rng.uniform(-15.0, 70.0) if rng.random() < 0.6 else rng.uniform(70.0, 170.0)
        upper = lean + sign * abduction
        forearm = upper + rng.choice((-1.0, 1.0)) * rng.uniform(0.0, 150.0)
        elbow = joints[_J[f"{side}_shoulder"]] + _direction(upper) * length(0.186, "arm")
        joints[_J[f"{side}_elbow"]] = elbow
        joints[_J[f"{side}_wrist"]] = elbow + _direction(forearm) * length(0.146, "arm")
        # Legs: slightly spread, knees bend inwards or outwards a little.
        thigh = lean + sign * rng.uniform(-8.0, 35.0)
        shank = thigh + rng.choice((-1.0, 1.0)) * rng.uniform(0.0, 60.0)
        knee = joints[_J[f"{side}_hip"]] + _direction(thigh) * length(0.245, "leg")
        joints[_J[f"{side}_knee"]] = knee
        joints[_J[f"{side}_ankle"]] = knee + _direction(shank) * length(0.246, "leg")

    head_angle = lean + rng.uniform(-20.0, 20.0)
    head_up = _direction(180.0 + head_angle)
    head_right = _direction(90.0 + head_angle)
    radius_y = 0.068 * scale["torso"]
    radius_x = 0.052 * scale["width"]
    head_centre = joints[_J["neck"]] + head_up * (0.18 * H - radius_y)
    turn = np.sin(np.deg2rad(yaw))
    joints[_J["head"]] = head_centre + head_up * radius_y
    joints[_J["nose"]] = head_centre - head_up * 0.15 * radius_y + head_right * turn * 0.7 * radius_x
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye_shift = (sign * 0.42 + turn * 0.5) * radius_x
        joints[_J[f"{side}_eye"]] = head_centre + head_up * 0.2 * radius_y + head_right * eye_shift
        ear_shift = (sign * 0.95 * yaw_width - 0.4 * turn) * radius_x  # ears move opposite to the face
        joints[_J[f"{side}_ear"]] = head_centre + head_up * 0.05 * radius_y + head_right * ear_shift

    self_occluded = np.zeros(len(SUPERSET_KEYPOINTS), dtype=bool)
    if yaw > 25.0:  # face turned to the image's right: its left ear is behind the head
        self_occluded[_J["left_ear"]] = True
    elif yaw < -25.0:
        self_occluded[_J["right_ear"]] = True

    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.9, 1.05)
    colours = {
        "skin": tuple(int(c) for c in np.clip(skin, 0, 255)),
        "shirt": _random_colour(rng),
        "trousers": _random_colour(rng),
    }
    return Body(joints, self_occluded, H, colours, (radius_x, radius_y), head_centre)


def _disc(draw: ImageDraw.ImageDraw, centre: np.ndarray, radius: int, fill) -> None:
    """Pixels within ``radius`` (an integer) of pixel ``centre``: symmetric about its centre."""
    x, y = int(centre[0]), int(centre[1])
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill)


def _thick_segment(draw: ImageDraw.ImageDraw, a: np.ndarray, b: np.ndarray, width: float, fill) -> None:
    """A line with round caps (PIL lines have flat ends, so joints get discs).

    Widths are odd (2 r + 1) so the line is symmetric about the pixel row of its end points.
    """
    r = max(1, int(round(width / 2.0)))
    draw.line([(int(a[0]), int(a[1])), (int(b[0]), int(b[1]))], fill=fill, width=2 * r + 1)
    for p in (a, b):
        _disc(draw, p, r, fill)


def draw_body(body: Body, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Render ``body`` (pixel coordinates, best ``Body.snapped``) on a blank canvas of ``size`` = (width, height).

    Returns:
        rgb: uint8[h, w, 3] the drawn person (black where nothing is drawn).
        mask: bool[h, w] True where the person covers a pixel.
    """
    rgb = Image.new("RGB", size)
    mask = Image.new("L", size)
    paint = ImageDraw.Draw(rgb)
    stencil = ImageDraw.Draw(mask)
    H = body.stature
    j = body.joints

    def both(shape: str, *args, colour, **kwargs) -> None:
        getattr(paint, shape)(*args, fill=colour, **kwargs)
        getattr(stencil, shape)(*args, fill=255, **kwargs)

    def segment(a: str, b: str, width: float, part: str) -> None:
        _thick_segment(paint, j[_J[a]], j[_J[b]], width * H, body.colours[part])
        _thick_segment(stencil, j[_J[a]], j[_J[b]], width * H, 255)

    # Back to front: legs, torso, neck and head, then arms (in front of the torso).
    for a, b, width, part in _LEG_LIMBS:
        segment(a, b, width, part)
    torso = [j[_J[n]] for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
    both("polygon", [tuple(p) for p in torso], colour=body.colours["shirt"])
    segment("left_shoulder", "right_shoulder", 0.05, "shirt")
    segment("left_hip", "right_hip", 0.07, "trousers")
    segment("neck", "head", 0.04, "skin")
    cx, cy = body.head_centre
    rx, ry = body.head_radii
    both("ellipse", [cx - rx, cy - ry, cx + rx, cy + ry], colour=body.colours["skin"])
    # Face marks so that the network can tell where the face points.
    dot = int(round(0.012 * H))
    for name in ("left_eye", "right_eye", "nose"):
        _disc(paint, j[_J[name]], dot, (25, 20, 20))
    for a, b, width, part in _ARM_LIMBS:
        segment(a, b, width, part)
    return np.asarray(rgb), np.asarray(mask) > 0
