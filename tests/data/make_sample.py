"""Makes the bundled sample video from the public-domain photographs beside this file.

Six seconds at 30 fps, 640x480: a pan over two faces side by side, a zoom into one
smiling face, a tilt down a portrait. Run: python tests/data/make_sample.py
"""

from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SIZE = (640, 480)
FPS = 30
# photo, frames, (centre x, centre y, scale) at the start and at the end of the scene
SCENES = [
    ("two_people.jpg", 60, (560, 250, 0.62), (650, 230, 0.62)),
    ("obama-480p.jpg", 60, (443, 190, 0.9), (443, 150, 1.6)),
    ("biden.jpg", 60, (592, 300, 0.5), (592, 420, 0.5)),
]


def render(photo: np.ndarray, cx: float, cy: float, scale: float) -> np.ndarray:
    m = np.array([[scale, 0, SIZE[0] / 2 - cx * scale], [0, scale, SIZE[1] / 2 - cy * scale]], np.float32)
    return cv2.warpAffine(photo, m, SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def main(out: Path = HERE / "sample.mp4") -> None:
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for name, frames, start, end in SCENES:
        photo = cv2.imread(str(HERE / name))
        for i in range(frames):
            a = i / (frames - 1)
            cx, cy, s = (p + (q - p) * a for p, q in zip(start, end))
            writer.write(render(photo, cx, cy, s))
    writer.release()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
