"""Emotion classification of face crops with a TFLite model (LiteRT, or tflite-runtime).

Preprocessing comes from the model's metadata file, so a model of another input size,
pixel scaling or label set runs without code changes. All faces of a frame go through
one invoke.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.perception.align import face_crop
from pi_emotion.perception.modelmeta import ModelMeta, meta_path
from pi_emotion.perception.native_log import runtime_info
from pi_emotion.perception.preprocess import normaliser
from pi_emotion.results.frame import Detection

log = logging.getLogger(__name__)


def load_interpreter(model: Path, num_threads: int) -> Any:
    """A TFLite interpreter from LiteRT, or from tflite-runtime where that is what the system has."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise UserError("no TFLite runtime: pip install ai-edge-litert (or tflite-runtime)") from None
    try:
        return Interpreter(model_path=str(model), num_threads=num_threads)
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"model {model} is not a valid TFLite model ({str(exc).splitlines()[0]})") from None


class EmotionClassifier:
    """Turns face crops of a frame into class probabilities."""

    def __init__(self, model: Path, num_threads: int = 1, tta: bool = False) -> None:
        if not model.is_file():
            raise UserError(f"model {model} not found")
        self.meta = ModelMeta.load(meta_path(model))
        self.path = model
        self.tta = tta
        self._interp = load_interpreter(model, num_threads)
        inp = self._interp.get_input_details()[0]
        out = self._interp.get_output_details()[0]
        w, h = self.meta.input_size
        want_in = (h, w, self.meta.channels)
        if len(inp["shape"]) != 4 or tuple(inp["shape"][1:]) != want_in:
            raise UserError(f"model {model}: input shape {list(inp['shape'])} does not match its metadata "
                            f"(expected [1, {h}, {w}, {self.meta.channels}])")
        if len(out["shape"]) != 2 or out["shape"][1] != len(self.meta.labels):
            raise UserError(f"model {model}: output shape {list(out['shape'])} is not one score per label "
                            f"({len(self.meta.labels)} labels)")
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_dtype = inp["dtype"]
        self._in_q = inp["quantization"]
        self._out_q = out["quantization"]
        self._input_shape = want_in
        self._batch = 0
        self._input = np.empty((0, *want_in), self._in_dtype)
        self._lut = self._pixel_table()
        self._normalise = normaliser(self.meta.preprocess)
        with runtime_info(log):
            self._interp.allocate_tensors()  # where LiteRT applies its XNNPACK delegate, and says so on stderr

    def _pixel_table(self) -> np.ndarray:
        """What the network's input tensor holds for each 0..255 pixel: scaling and quantisation in one lookup."""
        x = np.arange(256, dtype=np.float64) * self.meta.scale + self.meta.offset
        if self._in_dtype == np.float32:
            return x.astype(np.float32)
        scale, zero = self._in_q
        info = np.iinfo(self._in_dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(self._in_dtype)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.meta.labels

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._in_dtype)

    def crops(self, image: np.ndarray, faces: list[Detection], margin: float = 0.0) -> np.ndarray:
        """Model-sized crops (N, H, W, C) as uint8 pixels, from grey (H, W) or BGR (H, W, 3) images.

        Faces with landmarks are levelled and framed like the training faces; ``margin`` frames the others.
        """
        w, h = self.meta.input_size
        c = self.meta.channels
        out = np.empty((len(faces), h, w, c), np.uint8)
        for i, face in enumerate(faces):
            patch = face_crop(image, face, (w, h), margin)
            if c == 1 and patch.ndim == 3:
                patch = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
            elif c == 3 and patch.ndim == 2:
                patch = cv2.cvtColor(patch, cv2.COLOR_GRAY2RGB)
            elif c == 3:
                patch = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)
            out[i] = patch.reshape(h, w, c)
        return out

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) for uint8 crops (N, H, W, C); rows sum to 1."""
        n = len(pixels)
        if n == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        pixels = self._normalise(pixels)
        batch = np.concatenate([pixels, pixels[:, :, ::-1]]) if self.tta else pixels
        raw = self._invoke(batch)
        probs = (raw[:n] + raw[n:]) / 2 if self.tta else raw
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-9)

    def classify(self, image: np.ndarray, faces: list[Detection], margin: float = 0.0) -> np.ndarray:
        return self.predict(self.crops(image, faces, margin))

    def _invoke(self, pixels: np.ndarray) -> np.ndarray:
        n = len(pixels)
        if n != self._batch:
            self._interp.resize_tensor_input(self._in_index, [n, *self._input_shape])
            self._interp.allocate_tensors()
            self._batch = n
            self._input = np.empty((n, *self._input_shape), self._in_dtype)
        np.take(self._lut, pixels, out=self._input)
        self._interp.set_tensor(self._in_index, self._input)
        self._interp.invoke()
        y = self._interp.get_tensor(self._out_index)
        if y.dtype != np.float32:
            scale, zero = self._out_q
            y = (y.astype(np.float32) - zero) * scale
        return y
