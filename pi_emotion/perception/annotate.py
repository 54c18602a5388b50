"""Labelled boxes drawn onto a frame, sized to stay readable from 320 to 1920 pixels wide.

Every picture that leaves the appliance (stream, snapshot, recording, display) is drawn
here, so this is also where faces are pixelated (``blur_faces``) and where the "emotion
analysis active" notice goes: no output can forget either.
"""

from __future__ import annotations

import cv2
import numpy as np

from pi_emotion.results.frame import UNCERTAIN, FrameResult

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
# charts (report, browser view) colour labels the annotator has none for (such as "uncertain") from these
FALLBACK = ("#8c564b", "#7f7f7f", "#17becf", "#bcbd22", "#e377c2")
FONT = cv2.FONT_HERSHEY_SIMPLEX
NOTICE = "emotion analysis active"
PIXEL_CELLS = 8  # a pixelated face is this many blocks across: a face-shaped patch, no features
BLUR_GROW = 0.1  # the pixelated square reaches this fraction of the box beyond each side (hair, chin)


def hex_colours(labels: list[str]) -> list[str]:
    """The annotator's colour per emotion as ``#rrggbb`` (it draws BGR), so every chart matches the picture."""
    out, spare = [], iter(FALLBACK * 4)
    for label in labels:
        if label in COLOURS:
            b, g, r = COLOURS[label]
            out.append(f"#{r:02x}{g:02x}{b:02x}")
        else:
            out.append(next(spare, "#999999"))
    return out


def pixelate(image: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Replace the face's square (a little grown) with PIXEL_CELLS x PIXEL_CELLS flat blocks, in place."""
    x, y, w, h = box
    grow_x, grow_y = round(w * BLUR_GROW), round(h * BLUR_GROW)
    x0, y0 = max(0, x - grow_x), max(0, y - grow_y)
    x1, y1 = min(image.shape[1], x + w + grow_x), min(image.shape[0], y + h + grow_y)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    region = image[y0:y1, x0:x1]
    cells = cv2.resize(region, (min(PIXEL_CELLS, x1 - x0), min(PIXEL_CELLS, y1 - y0)), interpolation=cv2.INTER_AREA)
    region[:] = cv2.resize(cells, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)


def place_labels(boxes: list[tuple[int, int, int, int]], sizes: list[tuple[int, int]],
                 frame: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners for each box's label (``sizes``: width, height): inside the frame, none over another.

    A label goes above its box, else below it, else inside its top edge; where those are taken it
    slides away from the face, down or up, until it is free. Larger faces are placed first, so a
    crowd's small faces give way.
    """
    fw, fh = frame
    placed: list[tuple[int, int, int, int]] = []
    spots: list[tuple[int, int]] = [(0, 0)] * len(boxes)
    for i in sorted(range(len(boxes)), key=lambda k: -boxes[k][2] * boxes[k][3]):
        (x, y, _, h), (lw, lh) = boxes[i], sizes[i]
        lx = min(max(0, x), max(0, fw - lw))
        tries = [y - lh, y + h, y] + [ty for k in range(1, fh // max(lh, 1) + 1)
                                      for ty in (y + h + k * lh, y - (k + 1) * lh)]
        inside = [ty for ty in tries if 0 <= ty <= fh - lh] or [min(max(0, y - lh), max(0, fh - lh))]
        free = [ty for ty in inside if not any(_overlap((lx, ty, lw, lh), r) for r in placed)]
        ly = free[0] if free else inside[0]
        placed.append((lx, ly, lw, lh))
        spots[i] = (lx, ly)
    return spots


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def annotate(image: np.ndarray, result: FrameResult, overlay: str | None = None, *, blur_faces: bool = False,
             notice: bool = False) -> np.ndarray:
    """Draw in place (the frame is ours) and return it; ``overlay`` is a status line at top-left.

    Faces are pixelated before anything is drawn, so no label or box is blurred with them.
    """
    width = image.shape[1]
    scale = max(0.45, width / 1100)
    thick = max(1, round(width / 400))
    if blur_faces:
        for face in result.faces:
            pixelate(image, face.box)
    texts = [face.emotion if face.emotion == UNCERTAIN else f"{face.emotion} {face.score:.0%}" for face in result.faces]
    metrics = [cv2.getTextSize(text, FONT, scale, thick) for text in texts]
    sizes = [(tw + 6, th + base + 4) for (tw, th), base in metrics]
    spots = place_labels([face.box for face in result.faces], sizes, (image.shape[1], image.shape[0]))
    for face, text, ((_, th), _), (lw, lh), (lx, ly) in zip(result.faces, texts, metrics, sizes, spots):
        x, y, w, h = face.box
        colour = COLOURS.get(face.emotion, OTHER)
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, thick)
        cv2.rectangle(image, (lx, ly), (lx + lw, ly + lh), colour, cv2.FILLED)
        cv2.putText(image, text, (lx + 3, ly + th + 2), FONT, scale, (0, 0, 0), thick, cv2.LINE_AA)
    if overlay:
        (tw, th), base = cv2.getTextSize(overlay, FONT, scale, thick)
        cv2.rectangle(image, (0, 0), (tw + 10, th + base + 8), (0, 0, 0), cv2.FILLED)
        cv2.putText(image, overlay, (5, th + 4), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    if notice:
        (tw, th), base = cv2.getTextSize(NOTICE, FONT, scale, thick)
        bottom = image.shape[0]
        cv2.rectangle(image, (0, bottom - th - base - 8), (tw + 10, bottom), (0, 0, 0), cv2.FILLED)
        cv2.putText(image, NOTICE, (5, bottom - base - 4), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return image
