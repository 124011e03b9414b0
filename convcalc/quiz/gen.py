"""Candidate questions: realistic layer configurations drawn from a seeded ``random.Random``.

A generator returns a :class:`Draft` (the question as ``convcalc check`` reads it: an input and
spec layers, or a zoo model and a row) or ``None``; whether the engine accepts it is decided in
``convcalc.quiz`` (build the layers, analyse, keep it only if every asked answer exists).
Every choice goes through the one ``rng``, over lists in a fixed order: the same seed gives the
same drafts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import ConvcalcError


class QuizError(ConvcalcError):
    """Bad quiz arguments, or an output directory that cannot be written."""

IMAGE_SIZES = (28, 32, 64, 96, 112, 224, 227)
MAP_SIZES = (7, 13, 14, 27, 28, 56, 112)      # feature maps inside a network
IMAGE_CHANNELS = (1, 3, 3, 3)                 # grey or RGB (mostly RGB)
CHANNELS = (16, 32, 48, 64, 96, 128, 192, 256)
FILTERS = (8, 16, 32, 64, 96, 128, 256)
KERNELS = (1, 3, 5, 7, 11)


@dataclass
class Draft:
    text: str
    ask: tuple
    input: Optional[tuple] = None      # (C, H, W)
    layers: Optional[list] = None      # spec layer items
    model: Optional[str] = None
    at: Optional[str] = None
    dtype: str = "fp32"
    exact_tiling: bool = False         # reject when a stride leaves pixels uncovered
    zoo: bool = False
    tags: tuple = field(default_factory=tuple)
    optimizer: str = "sgd"             # training questions: the optimizer whose state counts


# -- layer items (the spec format) and their words -----------------------------------------------------
def conv(out, k, s=1, p=0, d=1, g=1, bias=True):
    args = {"out_channels": out, "kernel_size": k}
    for name, value, default in (("stride", s, 1), ("padding", p, 0), ("dilation", d, 1), ("groups", g, 1)):
        if value != default:
            args[name] = value
    if not bias:
        args["bias"] = False
    return {"conv2d": args}


def tconv(out, k, s=1, p=0, op=0, g=1):
    args = {"out_channels": out, "kernel_size": k, "stride": s}
    if p:
        args["padding"] = p
    if op:
        args["output_padding"] = op
    if g != 1:
        args["groups"] = g
    return {"convtranspose2d": args}


def pool(k, s, p=0, kind="max", ceil=False):
    args = {"kernel_size": k, "stride": s}
    if p:
        args["padding"] = p
    if ceil:
        args["ceil_mode"] = True
    return {f"{kind}pool2d": args}


def words(item) -> str:
    """One spec layer item in words, as a lecture writes it."""
    if isinstance(item, str):
        return {"relu": "ReLU", "flatten": "flatten"}.get(item, item)
    (kind, a), = item.items()
    if kind == "linear":
        return f"fully connected, {a['out_features']} outputs"
    if kind == "adaptiveavgpool2d":
        return "global average pool (to 1x1)"
    k = a["kernel_size"]
    parts = []
    if kind in ("conv2d", "convtranspose2d"):
        name = "transposed conv" if kind == "convtranspose2d" else "conv"
        head = f"{name}, {a['out_channels']} filters of {k}x{k}"
        g = a.get("groups", 1)
        if g != 1:
            parts.append(f"groups {g}")
        if not a.get("bias", True):
            parts.append("no bias")
    else:
        head = f"{kind[:3]}-pool {k}x{k}"
    parts.insert(0, f"stride {a.get('stride', 1)}")
    p = a.get("padding", 0)
    parts.insert(1, f"padding {p}" if p else "no padding")
    if a.get("dilation", 1) != 1:
        parts.append(f"dilation {a['dilation']}")
    if a.get("output_padding"):
        parts.append(f"output padding {a['output_padding']}")
    if a.get("ceil_mode"):
        parts.append("ceil mode")
    return head + ", " + ", ".join(parts)


def describe(draft: "Draft", shape_text) -> str:
    """The question's setting: the input and the layers, numbered when there are several."""
    if draft.layers is None:
        return draft.text
    inp = f"Input {shape_text(draft.input)}."
    if len(draft.layers) == 1:
        return f"{inp} Layer: {words(draft.layers[0])}."
    steps = "; ".join(f"({i}) {words(x)}" for i, x in enumerate(draft.layers, 1))
    return f"{inp} Layers: {steps}."


# -- building blocks ----------------------------------------------------------------------------------
def image(rng, sizes=IMAGE_SIZES):
    size = rng.choice(sizes)
    c = 1 if size == 28 else rng.choice(IMAGE_CHANNELS)
    return (c, size, size)


def feature_map(rng):
    return (rng.choice(CHANNELS), rng.choice(MAP_SIZES), rng.choice(MAP_SIZES)) if rng.random() < 0.15 \
        else (rng.choice(CHANNELS),) + (rng.choice(MAP_SIZES),) * 2


def simple_conv(rng, diff):
    """One conv of the difficulty: 1 stride 1 no padding; 2 strides, padding, dilation; 3 groups too."""
    k = rng.choice(KERNELS[:4] if diff == 1 else KERNELS)
    out = rng.choice(FILTERS)
    if diff == 1:
        return conv(out, k)
    s = rng.choice((1, 2, 2, 4) if k >= 7 else (1, 2))
    p = rng.choice((0, k // 2, k // 2, 1)) if k > 1 else 0
    d = rng.choice((1, 1, 1, 2)) if k in (3, 5) and s == 1 else 1
    return conv(out, k, s, p, d)


def grouped_conv(rng, c_in):
    """A depthwise (groups = C_in) or grouped conv on ``c_in`` channels."""
    k = rng.choice((3, 3, 5))
    s = rng.choice((1, 2))
    if rng.random() < 0.6:
        return conv(c_in, k, s, k // 2, g=c_in)
    g = rng.choice([x for x in (2, 4, 8, 32) if c_in % x == 0] or [1])
    return conv(rng.choice([f for f in FILTERS if f % g == 0]), k, s, k // 2, g=g)


def small_network(rng, diff, pointwise=True):
    """2-4 layers: convs (some strided, dilated or grouped), pools, ReLUs between."""
    inp = image(rng, (32, 64, 96, 112, 224))
    layers, c = [], inp[0]
    for _ in range(rng.choice((2, 3, 3, 4))):
        r = rng.random()
        weighted = [x for x in layers if isinstance(x, dict)]
        if weighted and "conv2d" in weighted[-1] and r < 0.3:   # a pool after a conv, never two in a row
            layers.append(pool(2, 2) if rng.random() < 0.6 else pool(3, 2, rng.choice((0, 1))))
        elif diff >= 3 and layers and c > 3 and r < 0.5:
            layers.append(grouped_conv(rng, c))
            c = layers[-1]["conv2d"]["out_channels"]
        else:
            layers.append(simple_conv(rng, max(diff, 2)))
            c = layers[-1]["conv2d"]["out_channels"]
        if pointwise and "conv2d" in layers[-1] and rng.random() < 0.4:
            layers.append("relu")
    return inp, layers


# -- zoo rows ----------------------------------------------------------------------------------------------
ZOO = {2: ("alexnet", "zfnet", "vgg16", "lenet5", "tinyconv"),
       3: ("alexnet", "alexnet-paper", "vgg16", "zfnet", "mobilenet_v1", "resnet18")}
ZOO_TITLES = {"alexnet": "AlexNet", "alexnet-paper": "AlexNet as trained on two GPUs (groups=2)",
              "zfnet": "ZFNet", "vgg16": "VGG-16", "lenet5": "LeNet-5", "tinyconv": "the lecture's tiny 32x32 net",
              "mobilenet_v1": "MobileNet v1", "resnet18": "ResNet-18"}
SEQUENTIAL_ZOO = ("alexnet", "alexnet-paper", "zfnet", "vgg16", "lenet5", "tinyconv")


def zoo_rows(name):
    """The model's input and the (row name, "conv2" / "pool1" label) of its conv and pool rows, in order."""
    from ..analyze import analyze
    from ..layers.conv import _ConvNd
    from ..layers.pool import _PoolNd
    from .. import zoo

    out, counts = [], {"conv": 0, "pool": 0}
    model = zoo.get(name)
    for r in analyze(model).rows:
        kind = "conv" if isinstance(r.layer, _ConvNd) else "pool" if isinstance(r.layer, _PoolNd) else None
        if kind:
            counts[kind] += 1
            out.append((r.name, f"{kind}{counts[kind]}"))
    return tuple(model.input), out


_ZOO_CACHE: dict = {}


def zoo_question(rng, diff, ask):
    """"The output of AlexNet's conv2": a conv or pool row of a zoo model."""
    names = ZOO[min(max(diff, 2), 3)]
    if "rf" in ask:
        names = tuple(n for n in names if n in SEQUENTIAL_ZOO)
    name = rng.choice(names)
    if name not in _ZOO_CACHE:
        _ZOO_CACHE[name] = zoo_rows(name)
    shape, rows = _ZOO_CACHE[name]
    if ask[0] in ("params", "macs"):
        rows = [r for r in rows if r[1].startswith("conv")]
    row, label = rng.choice(rows)
    title = ZOO_TITLES[name]
    if name in ("resnet18", "mobilenet_v1"):
        label = row
    what = {"output": "the output shape", "params": "the parameters", "macs": "the MACs",
            "rf": "the receptive field", "memory": "the output activation memory in bytes (fp32)"}[ask[0]]
    text = f"{title} (convcalc's `{name}`) on its standard {{input}} input: {what} of {label}" + \
        ("" if label == row else f" (row {row})") + "."
    return Draft(text=text, ask=ask, input=shape, model=name, at=row, zoo=True)


# -- topics ----------------------------------------------------------------------------------------------
def t_output_size(rng, diff):
    if diff >= 2 and rng.random() < 0.2:
        return zoo_question(rng, diff, ("output",))
    if diff == 1:
        if rng.random() < 0.25:
            size = rng.choice((28, 32, 64, 96, 112, 224))
            return Draft("", ("output",), image(rng, (size,)), [pool(2, 2, kind=rng.choice(("max", "avg")))],
                         exact_tiling=True)
        return Draft("", ("output",), image(rng), [simple_conv(rng, 1)], exact_tiling=True)
    if diff == 2:
        if rng.random() < 0.25:
            return Draft("", ("output",), feature_map(rng), [pool(rng.choice((2, 3)), 2, rng.choice((0, 0, 1)))])
        return Draft("", ("output",), image(rng), [simple_conv(rng, 2)])
    inp, layers = small_network(rng, 3)
    if rng.random() < 0.2:
        c = rng.choice(CHANNELS)
        return Draft("", ("output",), (c, 7, 7) if rng.random() < 0.5 else (c, 14, 14),
                     [tconv(c // 2, 4, 2, 1), "relu", tconv(c // 4, 4, 2, 1)])
    return Draft("", ("output",), inp, layers)


def _count_topic(rng, diff, fld):
    if diff >= 2 and rng.random() < 0.2:
        return zoo_question(rng, diff, (fld,))
    if diff == 1:
        layer = simple_conv(rng, 1)
        return Draft("", (fld,), image(rng), [layer], exact_tiling=True)
    if diff == 2:
        r = rng.random()
        if r < 0.3:  # the classic: the fully connected layer after the last feature map
            c, h = rng.choice(CHANNELS), rng.choice((4, 5, 6, 7))
            return Draft("", (fld,), (c, h, h), ["flatten", {"linear": {"out_features": rng.choice((10, 100, 128,
                                                                                                     1000))}}])
        layer = simple_conv(rng, 2)
        if rng.random() < 0.25:
            layer["conv2d"]["bias"] = False
        return Draft("", (fld,), image(rng) if r < 0.6 else feature_map(rng), [layer])
    r = rng.random()
    if r < 0.35:
        inp = feature_map(rng)
        return Draft("", (fld,), inp, [grouped_conv(rng, inp[0])])
    if r < 0.5:
        inp = feature_map(rng)
        return Draft("", (fld,), inp, [tconv(inp[0] // 2, rng.choice((2, 3, 4)), 2, rng.choice((0, 1)))])
    inp, layers = small_network(rng, 3)
    ask = (fld, "flops") if fld == "macs" and rng.random() < 0.3 else (fld,)
    return Draft("", ask, inp, layers)


def t_params(rng, diff):
    return _count_topic(rng, diff, "params")


def t_macs(rng, diff):
    return _count_topic(rng, diff, "macs")


def t_rf(rng, diff):
    if diff >= 2 and rng.random() < 0.2:
        return zoo_question(rng, diff, ("rf",))
    inp = image(rng, (32, 64, 96, 224))
    n = rng.choice((2, 3, 3, 4))
    layers = []
    for i in range(n):
        if diff == 1:
            layers.append(conv(rng.choice(FILTERS), rng.choice((3, 3, 5))))
        elif i and rng.random() < 0.35:
            layers.append(pool(2, 2) if rng.random() < 0.5 else pool(3, 2))
        else:
            k = rng.choice((3, 3, 5, 7))
            d = rng.choice((1, 1, 2, 4)) if diff == 3 and k == 3 else 1
            layers.append(conv(rng.choice(FILTERS), k, rng.choice((1, 2)) if d == 1 else 1, (k // 2) * d, d))
    return Draft("", ("rf",), inp, layers, exact_tiling=diff == 1)


def t_padding(rng, diff):
    k = rng.choice((3, 5, 7))
    if diff == 1:
        p = rng.choice((k // 2, k // 2, 1, 2)) if k > 3 else 1
        return Draft("", ("output",), image(rng), [conv(rng.choice(FILTERS), k, 1, p)])
    if diff == 2:
        r = rng.random()
        if r < 0.3:
            return Draft("", ("output",), feature_map(rng), [pool(3, 2, 1)])
        return Draft("", ("output",), image(rng, (32, 64, 96, 112, 224)),
                     [conv(rng.choice(FILTERS), k, 2, rng.choice((k // 2, k // 2, 0, 1)))])
    d = rng.choice((2, 3, 4))
    k = rng.choice((3, 3, 5))
    inp = feature_map(rng)
    layers = [conv(rng.choice(FILTERS), k, 1, d * (k // 2), d)]
    if rng.random() < 0.5:
        layers.append(conv(rng.choice(FILTERS), 3, 2, 1))
    return Draft("", ("output",), inp, layers)


def t_transposed(rng, diff):
    c = rng.choice(CHANNELS)
    if diff == 1:
        h = rng.choice((3, 4, 7, 14, 28))
        return Draft("", ("output", "params"), (c, h, h), [tconv(rng.choice(FILTERS), rng.choice((2, 3, 4)), 1)])
    if diff == 2:
        h = rng.choice((4, 7, 8, 14, 16, 28))
        s = 2
        k = rng.choice((2, 3, 4))
        p = rng.choice((0, 1)) if k > 2 else 0
        op = rng.choice((0, 1)) if k == 3 else 0
        return Draft("", ("output", "params"), (c, h, h), [tconv(rng.choice(FILTERS), k, s, p, op)])
    h = rng.choice((4, 7, 8))
    layers = [tconv(c // 2, 4, 2, 1)]
    if rng.random() < 0.5:
        layers += ["relu", tconv(c // 4, 4, 2, 1)]
    ask = rng.choice((("output", "macs"), ("output", "params"), ("macs",)))
    return Draft("", ask, (c, h, h), layers)


def t_pooling(rng, diff):
    kind = rng.choice(("max", "max", "avg"))
    if diff == 1:
        size = rng.choice((28, 32, 56, 64, 96, 112, 224))
        return Draft("", ("output",), (rng.choice(CHANNELS), size, size), [pool(2, 2, kind=kind)],
                     exact_tiling=True)
    if diff == 2:
        k, s = rng.choice(((3, 2), (3, 2), (2, 2), (3, 3), (5, 3)))
        return Draft("", rng.choice((("output",), ("output", "params"))), feature_map(rng),
                     [pool(k, s, rng.choice((0, 0, 1)) if k > 2 else 0, kind)])
    r = rng.random()
    if r < 0.3:
        return Draft("", ("output",), feature_map(rng), [pool(3, 2, 0, kind, ceil=True)])
    inp = image(rng, (32, 64, 96, 224))
    layers = [conv(rng.choice(FILTERS), rng.choice((3, 5, 7)), rng.choice((1, 2))), "relu", pool(3, 2)]
    if r < 0.6:
        layers.append({"adaptiveavgpool2d": {"output_size": 1}})
    return Draft("", ("output",), inp, layers)


def t_memory(rng, diff):
    if diff == 1:
        return Draft("", ("memory",), image(rng), [simple_conv(rng, 1)], exact_tiling=True)
    if diff == 2:
        r = rng.random()
        dtype = rng.choice(("fp32", "fp16"))
        if r < 0.35:
            return Draft("", ("param_memory",), image(rng), [simple_conv(rng, 2)], dtype=dtype)
        return Draft("", ("memory",), image(rng), [simple_conv(rng, 2)], dtype=dtype)
    if rng.random() < 0.2:
        return zoo_question(rng, diff, ("memory",))
    inp, layers = small_network(rng, 3, pointwise=False)
    return Draft("", ("memory",), inp, layers)


TOPICS = {"output-size": t_output_size, "params": t_params, "macs": t_macs, "rf": t_rf, "padding": t_padding,
          "transposed": t_transposed, "pooling": t_pooling, "memory": t_memory}


def t_mixed(rng, diff):
    return TOPICS[rng.choice(sorted(TOPICS))](rng, diff)
