"""``convcalc quiz --topic backward``: training questions on a conv or linear layer, with worked
solutions computed here from the layer's arguments (never read back from the engine, which the
key's values come from; a question is kept only when both agree).

* the gradient shapes: dX has the input's shape, dW the weight's (C_out, C_in/g, K, K) / (out, in);
* backward MACs: dW = conv(X, dY) and dX = conv_transpose(dY, W) each cost as many MACs as the
  forward; the first layer with weights needs no dX (its input is the data);
* training memory: weights + gradients + optimizer state (sgd 0, momentum 1, adam 2 per weight), fp32.
"""
from __future__ import annotations

from .gen import FILTERS, Draft, conv, feature_map, image

OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}


def t_backward(rng, diff):
    """diff 1: one conv on an image (dW only); 2: the second of two convs (dX and dW);
    3: a conv or a linear layer with an optimizer's state."""
    if diff == 1:
        k = rng.choice((3, 5))
        return Draft("", ("grad_weight_shape", "backward_macs"), image(rng, (28, 32, 64)),
                     [conv(rng.choice(FILTERS[:4]), k, 1, k // 2)])
    if diff == 2:
        inp = image(rng, (28, 32, 56))
        k = rng.choice((3, 5))
        layers = [conv(rng.choice(FILTERS[:4]), 3, 1, 1), "relu", conv(rng.choice(FILTERS[:5]), k, 1, k // 2)]
        return Draft("", ("grad_input_shape", "grad_weight_shape", "backward_macs"), inp, layers, at=3)
    opt = rng.choice(("sgd", "momentum", "adam"))
    if rng.random() < 0.5:
        c, h, _ = feature_map(rng)
        d = Draft("", ("training_memory",), (c, h, h), [conv(rng.choice(FILTERS), 3, 1, 1)])
    else:
        f_in = rng.choice((128, 256, 512, 1024))
        d = Draft("", ("training_memory",), (f_in,), [{"linear": {"out_features": rng.choice((10, 100, 256))}}])
    d.optimizer = opt
    return d


def _weight(row):
    lay = row.layer
    if "out_features" in lay.args():
        return (lay.out_features, row.input[-1]), f"(out, in) = ({lay.out_features}, {row.input[-1]})"
    g = lay.groups
    shape = (lay.out_channels, row.input[0] // g, *lay.kernel_size)
    return shape, "(C_out, C_in" + ("/g" if g != 1 else "") + ", K, K) = " + "x".join(map(str, shape))


def _params(row):
    shape, _ = _weight(row)
    w = 1
    for d in shape:
        w *= d
    out = shape[0]
    return w + (out if row.layer.bias else 0), w, out


def _forward_macs(row):
    shape, _ = _weight(row)
    per_output = 1
    for d in shape[1:]:
        per_output *= d
    if "out_features" in row.layer.args():
        return per_output * shape[0]
    c_out, h, w = row.output
    return c_out * h * w * per_output


def work(f, rows, row, optimizer: str):
    """(lines, value) of one training field at the asked row (the last row when none is asked)."""
    r = row if row is not None else rows[-1]
    first_weighted = next(x for x in rows if x.layer is not None and x.params)
    if f == "grad_input_shape":
        shape = tuple(r.input)
        return [f"dX has the shape of the layer's input: {'x'.join(map(str, shape))}"], shape
    if f == "grad_weight_shape":
        shape, text = _weight(r)
        return [f"dW has the shape of the weight: {text}"], shape
    if f == "backward_macs":
        fwd = _forward_macs(r)
        needs_dx = r is not first_weighted
        lines = [f"forward MACs = {fwd:,}; dW = conv(X, dY) costs the same {fwd:,}"
                 if "out_channels" in r.layer.args() else f"forward MACs = {fwd:,}; dW = dYᵀ·X costs the same"]
        if needs_dx:
            lines.append(f"dX = conv_transpose(dY, W) costs the same {fwd:,}: backward = 2·{fwd:,} = {2 * fwd:,}")
            return lines, 2 * fwd
        lines.append("the first layer needs no dX (its input is the data): backward = dW = " + f"{fwd:,}")
        return lines, fwd
    if f == "training_memory":
        params, w, b = _params(r)
        k = OPTIMIZER_STATES[optimizer]
        total = params * 4 * (2 + k)
        return [f"params = {w:,} weights + {b if r.layer.bias else 0} biases = {params:,}",
                f"memory = weights + gradients + {k} {optimizer} state{'s' if k != 1 else ''} per parameter, "
                f"4 B each = {params:,}·4·(2 + {k}) = {total:,} B"], total
    return None
