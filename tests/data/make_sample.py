"""Makes the bundled sample video from the public-domain photographs beside this file.

Six seconds at 30 fps, 640x480: a pan over two faces side by side, a zoom into one
smiling face, a tilt down a portrait. Run: python tests/data/make_sample.py. It writes
sample.mp4 and sample.faces.json, the faces each frame shows (for ``pi-emotion bench``).
"""

from pathlib import Path

import cv2
import numpy as np
from faces import PHOTO_FACES, moved_box, visible_part, write_truth

HERE = Path(__file__).resolve().parent
SIZE = (640, 480)
FPS = 30
# photo, frames, (centre x, centre y, scale) at the start and at the end of the scene
SCENES = [
    ("two_people.jpg", 60, (560, 250, 0.62), (650, 230, 0.62)),
    ("obama-480p.jpg", 60, (443, 190, 0.9), (443, 150, 1.6)),
    ("biden.jpg", 60, (592, 300, 0.5), (592, 420, 0.5)),
]


def camera(cx: float, cy: float, scale: float) -> np.ndarray:
    return np.array([[scale, 0, SIZE[0] / 2 - cx * scale], [0, scale, SIZE[1] / 2 - cy * scale]], np.float32)


def shots():
    """Each frame's photo and camera matrix."""
    for name, frames, start, end in SCENES:
        for i in range(frames):
            a = i / (frames - 1)
            yield name, camera(*(p + (q - p) * a for p, q in zip(start, end)))


def main(out: Path = HERE / "sample.mp4", video: bool = True) -> None:
    truth = []
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE) if video else None
    photos = {name: cv2.imread(str(HERE / name)) for name, *_ in SCENES}
    for name, m in shots():
        if writer is not None:
            writer.write(cv2.warpAffine(photos[name], m, SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE))
        boxes = (visible_part(moved_box(box, m), SIZE) for box in PHOTO_FACES[name])
        truth.append([b for b in boxes if b is not None])
    if writer is not None:
        writer.release()
    write_truth(out.with_suffix(".faces.json"), FPS, truth)
    print(f"wrote {out if video else ''} {out.with_suffix('.faces.json')}")


if __name__ == "__main__":
    import sys

    main(video="--truth-only" not in sys.argv)
