"""Start a network from a wider one of the same shape: its strongest channels, layer by layer.

A student at a quarter of the cost learns far sooner from the shipped network's own filters
than from random ones (structured pruning used as a starting point). Each group of channels
keeps those whose batch-norm scales |gamma| are largest, the channels the wider network leans
on most; channels joined by a residual sum are one group and chosen together, and every layer
that reads a group keeps the matching inputs. Where the wider network's surplus channels are
silent (gamma and beta zero), the narrowed network computes exactly what the wider one does.
"""

from __future__ import annotations

import numpy as np

# Layers that make new channels from all of their inputs; every other layer passes its input's channels on.
MIXING = ("Conv2D", "SeparableConv2D", "Dense")
NARROWABLE = (*MIXING, "BatchNormalization")


def _inbound(layer_config: dict) -> list[str]:
    """Names of the layers whose outputs this layer reads, from the model's (public) config."""
    names: list[str] = []

    def walk(x) -> None:
        if isinstance(x, dict):
            history = x.get("config", {}).get("keras_history") if isinstance(x.get("config"), dict) else None
            if history:
                names.append(history[0])
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(layer_config.get("inbound_nodes", []))
    return names


def channel_groups(model) -> tuple[dict[str, str], dict[str, str]]:
    """For each layer, the group of its output channels and of its input channels.

    Groups are named after the layer that made them; a sum joins its inputs' groups into one.
    """
    root: dict[str, str] = {}

    def find(g: str) -> str:
        while root.get(g, g) != g:
            g = root[g]
        return g

    made: dict[str, str] = {}
    reads: dict[str, str] = {}
    for cfg in model.get_config()["layers"]:
        name, inputs = cfg["name"], _inbound(cfg)
        groups = [find(made[i]) for i in inputs]
        for other in groups[1:]:
            root[find(other)] = groups[0]
        if groups:
            reads[name] = groups[0]
        made[name] = name if cfg["class_name"] in MIXING or not groups else groups[0]
    return {n: find(g) for n, g in made.items()}, {n: find(g) for n, g in reads.items()}


def _sizes(model, made: dict[str, str]) -> dict[str, int]:
    return {made[layer.name]: int(layer.output.shape[-1]) for layer in model.layers}


def _strongest(source, made: dict[str, str], sizes: dict[str, int]) -> dict[str, np.ndarray | None]:
    """The channels each of the target's groups keeps, in their original order; None: cannot choose."""
    have = _sizes(source, made)
    strength: dict[str, np.ndarray] = {}
    for layer in source.layers:
        if type(layer).__name__ == "BatchNormalization":
            g = made[layer.name]
            strength[g] = strength.get(g, 0) + np.abs(layer.gamma.numpy())
    keep: dict[str, np.ndarray | None] = {}
    for g, n in sizes.items():
        if have.get(g) == n:
            keep[g] = np.arange(n)
        elif g in strength and n < have.get(g, 0):
            keep[g] = np.sort(np.argsort(-strength[g], kind="stable")[:n])
        else:
            keep[g] = None
    return keep


def _narrowed(kind: str, weights: list[np.ndarray], inp: np.ndarray, out: np.ndarray) -> list[np.ndarray]:
    if kind == "BatchNormalization":
        return [w[out] for w in weights]
    if kind == "Dense":
        return [weights[0][np.ix_(inp, out)], *(w[out] for w in weights[1:])]
    if kind == "SeparableConv2D":
        depthwise, pointwise, *bias = weights
        return [depthwise[:, :, inp, :], pointwise[:, :, inp][..., out], *(b[out] for b in bias)]
    kernel, *bias = weights  # Conv2D
    return [kernel[:, :, inp][..., out], *(b[out] for b in bias)]


def narrowed_weights(target, source) -> tuple[dict[str, list[np.ndarray]], int]:
    """Weights for each of ``target``'s layers that ``source`` can give, by layer name.

    Returns them with the number of layers that were narrowed (not copied whole). A layer is
    left out when the source lacks it, is narrower, or cannot say which channels to keep.
    """
    made, reads = channel_groups(source)
    made_t, reads_t = channel_groups(target)
    if made_t != made or reads_t != reads:
        return _same_shapes(target, source), 0
    keep = _strongest(source, made, _sizes(target, made))
    layers = {layer.name: layer for layer in source.layers}
    out: dict[str, list[np.ndarray]] = {}
    narrowed = 0
    for layer in target.layers:
        src, kind = layers.get(layer.name), type(layer).__name__
        if not layer.weights or src is None or kind != type(src).__name__ or kind not in NARROWABLE:
            continue
        inp, outp = keep.get(reads.get(layer.name, "")), keep[made[layer.name]]
        if outp is None or (kind != "BatchNormalization" and inp is None):
            continue
        weights = _narrowed(kind, src.get_weights(), inp, outp)
        if [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]:
            out[layer.name] = weights
            narrowed += any(a.shape != b.shape for a, b in zip(weights, src.get_weights()))
    for name, weights in _same_shapes(target, source).items():
        out.setdefault(name, weights)
    return out, narrowed


def _same_shapes(target, source) -> dict[str, list[np.ndarray]]:
    """Layers whose weights fit as they are, by name and shape (any layer type)."""
    layers = {layer.name: layer for layer in source.layers}
    out = {}
    for layer in target.layers:
        src = layers.get(layer.name)
        if layer.weights and src is not None and \
                [tuple(w.shape) for w in src.weights] == [tuple(w.shape) for w in layer.weights]:
            out[layer.name] = src.get_weights()
    return out
