"""Where the shipped files live: ``models/`` beside the package in a checkout, or inside it when installed."""

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SEARCH = (_PACKAGE.parent / "models", Path(sys.prefix) / "share" / "pi-emotion" / "models")


def shipped(name: str) -> Path:
    """Path of a file shipped in ``models/`` (checkout layout first, then the installed copy)."""
    for base in _SEARCH:
        if (base / name).exists():
            return base / name
    return _PACKAGE.parent / "models" / name


def model_path(given: str) -> Path:
    """The model to run: a path as given, or a bare name of a shipped one (``emotion-5class.tflite``,
    or ``emotion-5class``: the .tflite, which is what the appliance runs).

    Empty means the shipped default.
    """
    if not given:
        return shipped(MODEL)
    path = Path(given)
    if path.name != given or path.exists():
        return path
    return shipped(given if path.suffix else given + ".tflite")


CASCADE = "haarcascade_frontalface_alt2.xml"
YUNET = "face_detection_yunet_2023mar.onnx"
MODEL = "emotion.tflite"
SAMPLES = _PACKAGE.parent / "tests" / "data"  # the bundled sample videos, in a checkout only
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".webp", ".tif", ".tiff"}  # pictures OpenCV reads
# extension -> FourCC of the recordings --output writes. WebM/VP8 plays in browsers; the pip OpenCV builds have no
# H.264 encoder.
VIDEO_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".webm": "VP80"}
