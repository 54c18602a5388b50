"""Makes the bundled real-scene sample from the public-domain photographs beside this file.

Four seconds at 30 fps, 640x480: a slow pan along a dim room with six people in it, faces
from 30 to 100 pixels across, some tilted, some turned away (squeezed), some much darker than
others, with sensor noise. Run: python tests/data/make_scene.py. It writes scene.mp4 and
scene.faces.json, the faces each frame shows (for ``pi-emotion bench``).
"""

from pathlib import Path

import cv2
import numpy as np
from faces import PHOTO_FACES, moved_box, visible_part, write_truth

HERE = Path(__file__).resolve().parent
SIZE = (640, 480)
WORLD = (1000, 600)
FPS = 30
FRAMES = 120
PAN = ((0, 60), (360, 60))  # top-left of the view at the start and at the end
# photo, face, face width in pixels, face centre in the room, tilt (degrees), turn (horizontal squeeze), light
PEOPLE = [
    ("obama-480p.jpg", 0, 70, (200, 250), 0, 1.0, 0.45),
    ("two_people.jpg", 0, 45, (420, 200), 12, 1.0, 0.35),
    ("two_people.jpg", 1, 36, (560, 310), -8, 0.7, 0.5),
    ("biden.jpg", 0, 100, (770, 290), 5, 0.8, 0.5),
    ("obama-480p.jpg", 0, 30, (900, 170), 0, 1.0, 0.3),
    ("two_people.jpg", 1, 55, (330, 420), -15, 1.0, 0.45),
]


def person_matrix(face, width, centre, tilt, turn) -> np.ndarray:
    """Photo pixels to room pixels: the face's centre to ``centre``, squeezed, tilted and scaled."""
    x, y, w, h = face
    scale = width / w
    squeeze = np.array([[turn, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    to_origin = np.array([[1, 0, -(x + w / 2)], [0, 1, -(y + h / 2)], [0, 0, 1]], float)
    turn_tilt = np.vstack([cv2.getRotationMatrix2D((0, 0), tilt, scale), [0, 0, 1]])
    to_room = np.array([[1, 0, centre[0]], [0, 1, centre[1]], [0, 0, 1]], float)
    return (to_room @ turn_tilt @ squeeze @ to_origin)[:2]


def room() -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """The dim room with its people, and each face's box in room pixels."""
    yy, xx = np.mgrid[0:WORLD[1], 0:WORLD[0]]
    wall = (40 + 25 * np.sin(xx / 90.0) + 15 * (yy / WORLD[1])).astype(np.uint8)
    world = cv2.merge([wall, (wall * 0.9).astype(np.uint8), (wall * 0.8).astype(np.uint8)])
    faces = []
    for name, index, width, centre, tilt, turn, light in PEOPLE:
        photo = cv2.imread(str(HERE / name))
        face = PHOTO_FACES[name][index]
        x, y, w, h = face
        # head and shoulders: the tile pasted into the room
        x0, y0 = max(0, int(x - 0.7 * w)), max(0, int(y - 0.5 * h))
        x1, y1 = min(photo.shape[1], int(x + 1.7 * w)), min(photo.shape[0], int(y + 2.2 * h))
        tile = np.clip(photo[y0:y1, x0:x1].astype(np.float32) * light, 0, 255).astype(np.uint8)
        m = person_matrix((x - x0, y - y0, w, h), width, centre, tilt, turn)
        world = cv2.warpAffine(tile, m, WORLD, dst=world, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_TRANSPARENT)
        faces.append(moved_box((x - x0, y - y0, w, h), m))
    return world, faces


def main(out: Path = HERE / "scene.mp4") -> None:
    world, faces = room()
    rng = np.random.default_rng(11)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    truth = []
    for i in range(FRAMES):
        a = i / (FRAMES - 1)
        vx = PAN[0][0] + (PAN[1][0] - PAN[0][0]) * a
        vy = PAN[0][1] + (PAN[1][1] - PAN[0][1]) * a
        m = np.array([[1, 0, -vx], [0, 1, -vy]], np.float32)
        view = cv2.warpAffine(world, m, SIZE, flags=cv2.INTER_LINEAR)
        noise = rng.normal(0, 3, view.shape)
        writer.write(np.clip(view + noise, 0, 255).astype(np.uint8))
        boxes = (visible_part((x - vx, y - vy, w, h), SIZE) for x, y, w, h in faces)
        truth.append([b for b in boxes if b is not None])
    writer.release()
    write_truth(out.with_suffix(".faces.json"), FPS, truth)
    print(f"wrote {out} {out.with_suffix('.faces.json')}")


if __name__ == "__main__":
    main()
