"""A width multiplier: every conv's ``out_channels`` and linear's ``out_features`` times ``factor``
(rounded, at least 1; grouped convs to a multiple of their groups, depthwise convs keep one group
per channel), except the last layer's, which keeps the model's outputs (the classes).

The graph is rebuilt with ``layer.replace(...)``: arguments that follow the input (``in_channels``,
``in_features``, a norm's ``num_features``/``num_channels``/``normalized_shape``, a per-channel
PReLU or layer scale) are recomputed from the shapes that flow through the new graph.
"""
from __future__ import annotations

from .errors import ConvcalcError
from .graph import Graph, to_graph

#: arguments set from the input's channel count (dim 0)
FOLLOW_CHANNELS = ("in_channels", "num_features", "num_channels", "channels")


def _widens(layer) -> str:
    args = layer.args()
    if "out_channels" in args and "kernel_size" in args:
        return "out_channels"
    if "out_features" in args and "in_features" in args:
        return "out_features"
    return ""


def last_layers(graph) -> set:
    """Keys of the conv/linear layers whose outputs reach a graph output through layers that
    do not change the channel count (activations, pooling, flatten, merges)."""
    keep, todo, seen = set(), list(graph.outputs), set()
    while todo:
        key = todo.pop()
        if key in seen or key not in graph.nodes:
            continue
        seen.add(key)
        node = graph[key]
        if _widens(node.layer):
            keep.add(key)
        else:
            todo.extend(node.inputs)
    return keep


def scaled(n: int, factor: float, groups: int = 1) -> int:
    """``round(n * factor)``, at least ``groups``, a multiple of ``groups``."""
    units = max(1, round(n * factor / groups))
    return units * groups


def widen(model, factor: float, input=None):
    """A copy of ``model`` (zoo Model, spec model, builder tree, Graph) ``factor`` times as wide."""
    import copy

    from .analyze import analyze  # noqa: F401  (the engine that infers the shapes below)

    if not (isinstance(factor, (int, float)) and factor > 0):
        raise ConvcalcError(f"width multiplier must be more than 0, got {factor!r}")
    net = getattr(model, "net", model)
    shape = tuple(input if input is not None else getattr(model, "input", None) or ())
    if not shape:
        raise ConvcalcError("a width multiplier needs an input shape")
    graph = to_graph(net)
    keep = last_layers(graph)
    new = Graph(inputs=graph.inputs)
    keys, shapes = {}, {graph.inputs[0]: shape}
    for node in graph:
        ins = [shapes[i] for i in node.inputs]
        layer = node.layer if node.implicit else _rescale(node, ins[0], factor, node.key in keep)
        try:
            shapes[node.key] = tuple(layer.infer_all(ins).shape)
        except ConvcalcError as e:
            raise ConvcalcError(f"width {factor:g}: {node.name}: {e}") from None
        keys[node.key] = new.add(node.name, layer, [keys.get(i, i) for i in node.inputs], implicit=node.implicit)
    if graph._outputs:
        new.outputs = [keys[k] for k in graph._outputs]
    out = copy.copy(model) if hasattr(model, "net") else new
    if hasattr(model, "net"):
        out.net = new
        out.name = f"{model.name} x{factor:g}"
    return out


def _rescale(node, in_shape, factor, last):
    layer = node.layer
    args = layer.args()
    changes = {}
    channels = in_shape[0] if in_shape else None
    for key in FOLLOW_CHANNELS:
        if key in args and args[key] is not None:
            changes[key] = channels
    if "in_features" in args and args["in_features"] is not None:
        changes["in_features"] = in_shape[-1]
    if args.get("num_parameters", 1) != 1:  # one slope per channel (PReLU)
        changes["num_parameters"] = channels
    if "normalized_shape" in args and args["normalized_shape"] is not None:
        n = args["normalized_shape"]
        n = len(n) if isinstance(n, (tuple, list)) else 1
        changes["normalized_shape"] = tuple(in_shape[-n:])
    what = _widens(layer)
    if what and not last:
        groups = args.get("groups", 1) or 1
        old = args[what]
        if groups > 1 and groups == args.get("in_channels") == old:  # depthwise: one group per channel
            changes["groups"] = channels
            changes[what] = channels
        else:
            changes[what] = scaled(old, factor, groups)
    elif what == "out_channels" and (args.get("groups", 1) or 1) > 1 and \
            args.get("groups") == args.get("in_channels"):
        changes["groups"] = channels
    try:
        return layer.replace(**changes) if changes else layer
    except (ConvcalcError, TypeError) as e:
        raise ConvcalcError(f"width {factor:g}: {node.name}: {e}") from None
