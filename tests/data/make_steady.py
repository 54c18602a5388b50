"""Makes the bundled clip for following faces from the public-domain photographs beside this file.

Nine seconds at 30 fps, 640x360, three scenes joined by hard cuts (frames 90 and 180):
A, two people in a lit room, one standing still for a second and then walking right at
4 px a frame, the other drifting right; B, two people, one of them where the walker of A
stood at the cut (a tracker must not hand him the walker's id), the other drifting; C, a dim
room with a far face about 16 px wide and a tilted, turned face drifting. Expressions do
not change within a scene, so a shown label that changes is flicker. Run:
python tests/data/make_steady.py. It writes steady.mp4 and steady.faces.json: every visible
face's box and who it is, per frame, and the cut frames (for ``pi-emotion bench --steady``).
"""

import json
from pathlib import Path

import cv2
import numpy as np
from faces import PHOTO_FACES, moved_box, visible_part
from make_scene import person_matrix

HERE = Path(__file__).resolve().parent
SIZE = (640, 360)
FPS = 30
SCENE = 90  # frames per scene; the cuts fall at its multiples


def walker(frame: int) -> tuple[float, float]:
    """Still for a second, then 4 px a frame to the right."""
    return 120 + 4 * max(0, frame - 30), 150


# per scene: background brightness, light on the people, and the people:
# (who, photo, face index, face width, centre at scene frame f, tilt, turn)
SCENES = [
    (70, 0.85, [("obama", "obama-480p.jpg", 0, 80, walker, 0, 1.0),
                ("biden", "biden.jpg", 0, 70, lambda f: (540 + 0.3 * f, 200), 0, 1.0)]),
    (55, 0.65, [("left", "two_people.jpg", 0, 75, lambda f: (360, 150), 0, 1.0),
                ("right", "two_people.jpg", 1, 65, lambda f: (530 + 0.6 * f, 190), 0, 1.0)]),
    (35, 0.45, [("far", "obama-480p.jpg", 0, 16, lambda f: (120, 80), 0, 1.0),
                ("turned", "biden.jpg", 0, 60, lambda f: (400 + f, 200 + 0.5 * f), 10, 0.75)]),
]


def tile(name: str, index: int, light: float) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A person's head and shoulders from the photo, lit, and the face's box within it."""
    photo = cv2.imread(str(HERE / name))
    x, y, w, h = PHOTO_FACES[name][index]
    x0, y0 = max(0, int(x - 0.7 * w)), max(0, int(y - 0.5 * h))
    x1, y1 = min(photo.shape[1], int(x + 1.7 * w)), min(photo.shape[0], int(y + 2.2 * h))
    lit = np.clip(photo[y0:y1, x0:x1].astype(np.float32) * light, 0, 255).astype(np.uint8)
    return lit, (x - x0, y - y0, w, h)


def background(level: int, seed: int) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE[1], 0:SIZE[0]]
    wall = (level + 20 * np.sin(xx / (60.0 + 15 * seed)) + 15 * (yy / SIZE[1])).clip(0, 255).astype(np.uint8)
    return cv2.merge([wall, (wall * (0.8 + 0.1 * seed)).astype(np.uint8), (wall * 0.85).astype(np.uint8)])


def main(out: Path = HERE / "steady.mp4") -> None:
    rng = np.random.default_rng(5)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    truth = []
    for s, (level, light, people) in enumerate(SCENES):
        back = background(level, s)
        tiles = [(who, *tile(name, index, light), width, centre, tilt, turn)
                 for who, name, index, width, centre, tilt, turn in people]
        for f in range(SCENE):
            frame = back.copy()
            faces = []
            for who, picture, face, width, centre, tilt, turn in tiles:
                m = person_matrix(face, width, centre(f), tilt, turn)
                frame = cv2.warpAffine(picture, m, SIZE, dst=frame, flags=cv2.INTER_AREA,
                                       borderMode=cv2.BORDER_TRANSPARENT)
                box = visible_part(moved_box(face, m), SIZE)
                if box is not None:
                    faces.append([*box, who])
            writer.write(np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8))
            truth.append(faces)
    writer.release()
    record = {"fps": FPS, "cuts": [SCENE * i for i in range(1, len(SCENES))], "frames": truth}
    out.with_suffix(".faces.json").write_text(json.dumps(record, separators=(",", ":")) + "\n")
    print(f"wrote {out} {out.with_suffix('.faces.json')}")


if __name__ == "__main__":
    main()
