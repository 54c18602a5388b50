"""Labelled boxes drawn onto a frame, sized to stay readable from 320 to 1920 pixels wide."""

from __future__ import annotations

import cv2
import numpy as np

from pi_emotion.results import UNCERTAIN, FrameResult

# BGR; distinct at a glance, and 'happy' green / 'angry' red as people expect.
COLOURS: dict[str, tuple[int, int, int]] = {
    "angry": (40, 40, 230),
    "disgust": (40, 140, 40),
    "fear": (160, 60, 160),
    "happy": (60, 200, 60),
    "sad": (200, 120, 40),
    "surprise": (0, 200, 240),
    "neutral": (200, 200, 200),
}
OTHER = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def annotate(image: np.ndarray, result: FrameResult, overlay: str | None = None) -> np.ndarray:
    """Draw in place (the frame is ours) and return it; ``overlay`` is a status line at top-left."""
    width = image.shape[1]
    scale = max(0.45, width / 1100)
    thick = max(1, round(width / 400))
    for face in result.faces:
        x, y, w, h = face.box
        colour = COLOURS.get(face.emotion, OTHER)
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, thick)
        label = face.emotion if face.emotion == UNCERTAIN else f"{face.emotion} {face.score:.0%}"
        (tw, th), base = cv2.getTextSize(label, FONT, scale, thick)
        top = y - th - base - 4 if y - th - base - 4 >= 0 else y + h
        cv2.rectangle(image, (x, top), (x + tw + 6, top + th + base + 4), colour, cv2.FILLED)
        cv2.putText(image, label, (x + 3, top + th + 2), FONT, scale, (0, 0, 0), thick, cv2.LINE_AA)
    if overlay:
        (tw, th), base = cv2.getTextSize(overlay, FONT, scale, thick)
        cv2.rectangle(image, (0, 0), (tw + 10, th + base + 8), (0, 0, 0), cv2.FILLED)
        cv2.putText(image, overlay, (5, th + 4), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return image
