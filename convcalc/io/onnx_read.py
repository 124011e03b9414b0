"""Reading an ONNX file (the optional ``onnx`` extra; onnx is imported only inside functions).

:func:`read` loads the file without its external weights (only the initializers' dims are used) and
refuses, in one line, what is not an ONNX model. :func:`prepare` fixes the one input's dims (the
batch dim, the first, is set to 1; ``--input`` gives the others where the file leaves them
dynamic or the user wants another size) and runs ONNX shape inference. Shapes are read at batch 1,
so a tensor's per-sample shape is its shape without a leading 1 (a tensor whose first dim is not 1
holds the batch folded into another dim, as a window partition does, and is kept whole).
"""
from __future__ import annotations

import os

from ..errors import ConvcalcError, UnknownModel
from ..sym import is_sym, prod
from .onnx_fold import fold


class OnnxError(ConvcalcError):
    """An ONNX file convcalc cannot read (not ONNX, truncated, no input it can size)."""


INSTALL = "reading ONNX files needs the onnx package: pip install 'convcalc[onnx]'"


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ConvcalcError(INSTALL) from None
    return onnx


def read(path: str):
    """The ``ModelProto`` in ``path`` (external weight data is not loaded: only dims are needed)."""
    onnx = _onnx()
    if not os.path.exists(path):
        raise UnknownModel(f"{path}: no such file")
    if os.path.isdir(path):
        raise OnnxError(f"{path}: is a directory, not an ONNX file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise OnnxError(f"{path}: cannot read it ({e.strerror or e})") from None
    try:
        model = onnx.load_from_string(data)
    except Exception as e:  # protobuf's DecodeError and its kin: a truncated or foreign file
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise OnnxError(f"{path}: not a readable ONNX file ({text})") from None
    check(model, path)
    return model


def check(model, source: str) -> None:
    """Refuse a message that parsed but is not a model (protobuf reads many byte strings)."""
    if not model.ir_version or not model.HasField("graph"):
        raise OnnxError(f"{source}: not an ONNX model (no IR version or no graph)")
    if not model.graph.node:
        raise OnnxError(f"{source}: the ONNX graph is empty (no nodes)")


def dims_of(value_info) -> list:
    """Dims of a tensor's type: ints, or the name of a symbolic dim ('?' when unnamed); None if unranked."""
    tt = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type") or not tt.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]


def dims_text(dims) -> str:
    """``1x3x224x224``; ``scalar`` for no dims (shared by the ONNX modules' messages)."""
    return "x".join(str(d) for d in dims) or "scalar"


def the_input(graph, source: str):
    """The graph's one real input (initializers listed as inputs by old exporters excluded)."""
    inits = {i.name for i in graph.initializer}
    real = [i for i in graph.input if i.name not in inits]
    if len(real) != 1:
        names = ", ".join(repr(i.name) for i in real) or "none"
        raise OnnxError(f"{source}: the ONNX graph has {len(real)} inputs ({names}); convcalc reads models with one")
    return real[0]


def input_dims(inp, given, source: str) -> tuple:
    """Full dims (batch 1 first) for the input ``inp``: the file's, with ``given`` (per sample) over them."""
    dims = dims_of(inp)
    if given is not None:
        given = tuple(given)
        if any(is_sym(d) for d in given):
            raise OnnxError("an ONNX model is sized by ONNX shape inference: give a numeric --input (no symbols)")
        if dims is not None and len(given) != len(dims) - 1:
            raise OnnxError(f"--input {dims_text(given)} has {len(given)} dims but ONNX input {inp.name!r} is "
                            f"{dims_text(dims)} (batch + {len(dims) - 1} dims per sample)")
        if dims is not None and len(dims) > 1 and isinstance(dims[1], int) and dims[1] and given[0] != dims[1]:
            raise OnnxError(f"--input {dims_text(given)} has {given[0]} channels but ONNX input {inp.name!r} "
                            f"({dims_text(dims)}) takes {dims[1]}")
        return (1, *given)
    if dims is None:
        raise OnnxError(f"{source}: ONNX input {inp.name!r} has no shape; give --input (per sample, e.g. 3x224x224)")
    if not dims:
        raise OnnxError(f"{source}: ONNX input {inp.name!r} is a scalar; convcalc needs a batch dim")
    dynamic = [d for d in dims[1:] if not isinstance(d, int) or d < 1]
    if dynamic:
        raise OnnxError(f"{source}: ONNX input {inp.name!r} has dynamic sizes ({', '.join(map(str, dims))}); give --input with "
                        f"the {len(dims) - 1} sizes per sample, e.g. --input {dims_text(_example(dims))}")
    return (1, *dims[1:])


def _example(dims) -> list:
    guess = {1: [3], 2: [3, 224], 3: [3, 224, 224], 4: [3, 16, 112, 112]}.get(len(dims) - 1)
    return [d if isinstance(d, int) and d > 0 else g for d, g in zip(dims[1:], guess)] if guess else \
        [d if isinstance(d, int) and d > 0 else 8 for d in dims[1:]]


def _set_dims(value_info, dims) -> None:
    shape = value_info.type.tensor_type.shape
    shape.ClearField("dim")
    for d in dims:
        shape.dim.add().dim_value = int(d)


#: initializers above this many elements are given to shape inference as sized inputs, not data
BIG = 4096
#: element types of parameters: float, float16, double, bfloat16
FLOAT_TYPES = frozenset({1, 10, 11, 16})


def light(onnx, model, inits):
    """A copy of ``model`` without the data of its large initializers (shape inference needs their
    dims only; copying a large model's weights would cost more than everything else)."""
    g = model.graph
    out = onnx.ModelProto()
    out.ir_version = max(model.ir_version, 4)  # inputs without initializers, initializers not inputs
    out.opset_import.extend(model.opset_import)
    lg = out.graph
    lg.name = g.name
    lg.node.extend(g.node)
    lg.output.extend(g.output)
    lg.value_info.extend(g.value_info)
    big = {name for name, (dims, _) in inits.items() if prod(dims) > BIG}
    big |= {t.name for t in g.initializer if t.data_location == onnx.TensorProto.EXTERNAL}  # data not loaded
    lg.input.extend(i for i in g.input if i.name not in inits)
    lg.initializer.extend(t for t in g.initializer if t.name not in big)
    for t in g.initializer:
        if t.name in big:
            lg.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return out


def prepare(model, given, source: str):
    """(model with every inferable shape, input name, full input dims, initializers' (dims, type)):
    shape inference at batch 1, shape arithmetic folded where ONNX cannot follow it."""
    onnx = _onnx()
    inits = {t.name: (tuple(int(d) for d in t.dims), t.data_type) for t in model.graph.initializer}
    inp = the_input(model.graph, source)
    full = input_dims(inp, given, source)
    old = dims_of(inp)
    model = light(onnx, model, inits)
    graph = model.graph
    _set_dims(next(i for i in graph.input if i.name == inp.name), full)
    if old is None or list(old) != list(full):  # shapes recorded for other sizes would contradict these
        _forget_shapes(graph)
    inferred = infer(onnx, model, source)
    weights, values = {n for n, (_, t) in inits.items() if t in FLOAT_TYPES}, {}
    for _ in range(256):  # each round sizes what the folded values reach (a pad, then its reshape...)
        known = shapes(inferred)
        if not _unsized(inferred, known):
            break
        if not fold(inferred, weights, known, values):
            break
        del inferred.graph.value_info[:]
        inferred = infer(onnx, inferred, source)
    for _ in range(32):  # outputs ONNX cannot infer (custom ops): assumed the size of their input
        if not _assume_unknown(inferred, set(inits)):
            break
        inferred = infer(onnx, inferred, source)
    if old and isinstance(old[0], int) and old[0] > 1:
        _same_per_sample(onnx, model, inp.name, (old[0], *full[1:]), shapes(inferred), source)
    return inferred, inp.name, full, inits


def _same_per_sample(onnx, model, name: str, dims: tuple, at_one: dict, source: str) -> None:
    """The file fixes the batch at N > 1 and convcalc reads it at 1: every tensor must then be
    the same per sample at N (a Reshape to a hard-coded [8, -1], or a Gemm over the batch dim,
    would make the batch-1 figures wrong). Refused in one line where it is not."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    _set_dims(next(i for i in m.graph.input if i.name == name), dims)
    _forget_shapes(m.graph)
    at_n = shapes(infer(onnx, m, source))
    data = _carries_samples(m.graph, name)
    for node in m.graph.node:
        for out in node.output:
            a, b = at_one.get(out), at_n.get(out)
            if a is None or b is None or out not in data:
                continue
            if b != ((dims[0], *a[1:]) if a and a[0] == 1 else a):
                raise OnnxError(f"{source}: the file fixes the batch at {dims[0]} and its shapes depend on it "
                                f"({node.op_type} {node.name or out!r}: {dims_text(b)} at batch {dims[0]}, {dims_text(a)} "
                                f"at batch 1): convcalc reads a model per sample; export it with batch 1 or a "
                                f"dynamic batch")


def _forget_shapes(graph) -> None:
    """Drop the shapes inference or the exporter recorded (they hold for another input size)."""
    del graph.value_info[:]
    for out in graph.output:
        out.type.tensor_type.ClearField("shape")


def _carries_samples(graph, name: str) -> set:
    """The tensors computed from the input's values (not from its shape alone, through Shape or
    Size): only these carry the batch. A bias unsqueezed to 1xCx1x1, or the flatten's
    [N] from Shape, has a leading 1 that is no batch."""
    data = {name}
    for node in graph.node:  # (in order: ONNX graphs are sorted)
        if node.op_type not in ("Shape", "Size") and any(i in data for i in node.input):
            data.update(node.output)
    return data


def _unsized(model, known) -> bool:
    consts = {t.name for t in model.graph.initializer}
    return any(o and o not in known and o not in consts for n in model.graph.node for o in n.output)


def infer(onnx, model, source):
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise OnnxError(f"{source}: ONNX shape inference fails: {text}") from None


def shapes(model) -> dict:
    """Tensor name -> dims (ints) for every tensor whose dims are all known numbers."""
    out = {}
    g = model.graph
    for vi in (*g.input, *g.value_info, *g.output):
        dims = dims_of(vi)
        if dims is not None and all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
            out[vi.name] = tuple(dims)
    return out


def _assume_unknown(model, skip) -> list:
    """Give the first output of each node whose inputs are sized but whose outputs are not the
    first input's shape (recorded in the model's metadata, to be said); the names so sized."""
    known = shapes(model)
    consts = {i.name for i in model.graph.initializer} | set(skip)
    done = []
    for node in model.graph.node:
        if not node.output or node.output[0] in known or not node.output[0]:
            continue
        ins = [n for n in node.input if n and n not in consts]
        if not ins or ins[0] not in known:
            continue
        vi = next((v for v in model.graph.value_info if v.name == node.output[0]), None)
        if vi is None:
            vi = model.graph.value_info.add()
            vi.name = node.output[0]
        vi.type.tensor_type.elem_type = 1
        _set_dims(vi, known[ins[0]])
        known[node.output[0]] = known[ins[0]]
        entry = model.metadata_props.add()
        entry.key, entry.value = "convcalc.assumed", node.output[0]
        done.append(node.output[0])
    return done


def assumed(model) -> set:
    return {p.value for p in model.metadata_props if p.key == "convcalc.assumed"}


def attrs(node) -> dict:
    """A node's attributes as Python values (ints, floats, strings, lists; tensors as arrays)."""
    onnx = _onnx()
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8", "replace") for x in v]
        out[a.name] = v
    return out


def array(tensor_proto):
    """The value of a (small) constant tensor as a NumPy array, or None (external or unreadable)."""
    onnx = _onnx()
    try:
        return onnx.numpy_helper.to_array(tensor_proto)
    except Exception:
        return None
