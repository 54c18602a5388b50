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
# Layers that join their inputs channel by channel, so that all of their inputs are one group.
JOINING = ("Add", "Average", "Maximum", "Minimum", "Multiply", "Subtract")


def _inbound(layer_config: dict) -> list[str]:
    """Names of the layers whose outputs this layer reads, from the model's (public) config."""
    names: list[str] = []

    def walk(x) -> None:
        if isinstance(x, dict):
            history = x["config"].get("keras_history") if isinstance(x.get("config"), dict) else None
            if history:
                names.append(history[0])
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(layer_config.get("inbound_nodes", []))
    return names


def channel_groups(model) -> tuple[dict[str, str], dict[str, str]] | None:
    """For each layer, the group of its output channels and of its input channels.

    Groups are named after the layer that made them; a sum joins its inputs' groups into one.
    None when the graph cannot be read this way: a model without a functional config, or a
    layer that reads several inputs without joining them channel by channel (a concatenation).
    """
    try:
        layers = model.get_config()["layers"]
    except (NotImplementedError, KeyError, TypeError):  # a subclassed model, or a config of another layout
        return None
    root: dict[str, str] = {}

    def find(g: str) -> str:
        while root.get(g, g) != g:
            g = root[g]
        return g

    made: dict[str, str] = {}
    reads: dict[str, str] = {}
    for cfg in layers:
        if "name" not in cfg or "inbound_nodes" not in cfg:  # e.g. a Sequential model's layer list
            return None
        name, inputs = cfg["name"], _inbound(cfg)
        if (len(inputs) > 1 and cfg["class_name"] not in JOINING) or any(i not in made for i in inputs):
            return None
        groups = [find(made[i]) for i in inputs]
        for other in groups[1:]:
            root[find(other)] = groups[0]
        if groups:
            reads[name] = groups[0]
        made[name] = name if cfg["class_name"] in MIXING or not groups else groups[0]
    return {n: find(g) for n, g in made.items()}, {n: find(g) for n, g in reads.items()}


def _sizes(model, made: dict[str, str]) -> dict[str, int] | None:
    """Each group's width; None when a layer that should pass channels on changes their number (a flatten)."""
    sizes: dict[str, int] = {}
    for layer in model.layers:
        width = int(layer.output.shape[-1])
        if sizes.setdefault(made[layer.name], width) != width:
            return None
    return sizes


def _strongest(source, made: dict[str, str], sizes: dict[str, int],
               have: dict[str, int]) -> dict[str, np.ndarray | None]:
    """The channels each of the target's groups keeps, in their original order; None: cannot choose."""
    strength: dict[str, np.ndarray] = {}
    for layer in source.layers:
        if type(layer).__name__ == "BatchNormalization" and layer.gamma is not None:  # None: built with scale=False
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
    left out when the source lacks it, is narrower, reads other channels in the target (the head
    of a deeper network), or cannot say which channels to keep. The target may add layers of its
    own (a further block); when the layers both have are grouped differently, or a graph cannot
    be read as groups of channels, only the layers whose weights fit whole are given.
    """
    graph, graph_t = channel_groups(source), channel_groups(target)
    layers = {layer.name: layer for layer in source.layers}
    if graph is None or graph_t is None or any(
            graph[0].get(layer.name) != graph_t[0][layer.name] for layer in target.layers
            if layer.weights and layer.name in layers):
        return _same_shapes(target, source), 0
    made, reads = graph_t  # where the target has layers of its own (a deeper network), they make groups of their own
    sizes, have = _sizes(target, made), _sizes(source, graph[0])
    if sizes is None or have is None:
        return _same_shapes(target, source), 0
    keep = _strongest(source, graph[0], sizes, have)
    out: dict[str, list[np.ndarray]] = {}
    narrowed = 0
    for layer in target.layers:
        src, kind = layers.get(layer.name), type(layer).__name__
        if not layer.weights or src is None or kind != type(src).__name__ or kind not in NARROWABLE \
                or reads.get(layer.name) != graph[1].get(layer.name):  # it reads other channels here
            continue
        inp, outp = keep.get(reads.get(layer.name, "")), keep[made[layer.name]]
        if outp is None or (kind != "BatchNormalization" and inp is None):
            continue
        whole = src.get_weights()
        weights = _narrowed(kind, whole, inp, outp)
        if [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]:
            out[layer.name] = weights
            narrowed += any(a.shape != b.shape for a, b in zip(weights, whole))
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
