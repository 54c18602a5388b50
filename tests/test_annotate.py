"""Labels are drawn inside the picture and never over one another."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pi_emotion.perception.annotate import annotate, place_labels
from pi_emotion.results.frame import Face, FrameResult

FRAME = (640, 360)


def rects(boxes, sizes):
    return [(x, y, w, h) for (x, y), (w, h) in zip(place_labels(boxes, sizes, FRAME), sizes)]


def overlap(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_close_faces_get_labels_that_do_not_overlap():
    boxes = [(100, 100, 60, 60), (150, 110, 60, 60), (200, 95, 60, 60)]  # three faces side by side in a crowd
    placed = rects(boxes, [(90, 20)] * 3)
    assert not any(overlap(a, b) for i, a in enumerate(placed) for b in placed[i + 1:])


def test_a_face_at_the_right_or_top_edge_keeps_its_label_inside():
    (label,) = rects([(600, 0, 40, 40)], [(120, 22)])
    x, y, w, h = label
    assert 0 <= x and x + w <= FRAME[0] and 0 <= y and y + h <= FRAME[1]
    assert y >= 40  # no room above the face: the label goes below it


box = st.tuples(st.integers(-50, 620), st.integers(-50, 340), st.integers(10, 200), st.integers(10, 200))


@settings(max_examples=200, deadline=None)
@given(st.lists(box, min_size=1, max_size=5))
def test_every_label_lies_inside_the_frame_and_few_faces_never_share_a_label_spot(boxes):
    placed = rects(boxes, [(100, 22)] * len(boxes))
    assert all(0 <= x and x + w <= FRAME[0] and 0 <= y and y + h <= FRAME[1] for x, y, w, h in placed)
    assert not any(overlap(a, b) for i, a in enumerate(placed) for b in placed[i + 1:])


def test_annotate_draws_each_label_where_it_was_placed():
    image = np.zeros((FRAME[1], FRAME[0], 3), np.uint8)
    faces = [Face((600, 0, 40, 40), "happy", 0.9, {}, 1, "happy", 0.9)]
    annotate(image, FrameResult(0, 0.0, faces))
    assert image[:, :600].any()  # the label reaches left of the face, inside the picture
    assert image[45:75, 560:640].any()
