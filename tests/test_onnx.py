"""The ONNX reader (``convcalc model.onnx``, ``convcalc.from_onnx``).

Oracles: torchvision models exported with torch's TorchScript exporter (``dynamo=False``: the new
exporter needs onnxscript), their parameters against ``sum(p.numel())`` and the published
``num_params``, their MACs against the published GFLOPS and torch's ``FlopCounterMode`` (FLOPs of
convolutions and matrix products, 2 per MAC), every module's output shape against torch's forward
hooks; hand-built graphs (``onnx.helper``) with their figures written out as arithmetic, and
their output shapes against ONNX's reference implementation, which executes the graph. Skipped
without onnx (the torch part without torch or torchvision)."""
import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
import numpy as np  # noqa: E402

import convcalc as cc  # noqa: E402
from convcalc.io.onnx_import import from_onnx  # noqa: E402

import tv  # noqa: E402

F = TensorProto.FLOAT


def model_of(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, dims):
    return helper.make_tensor_value_info(name, F, dims)


def weight(name, dims, seed=0):
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(dims).astype(np.float32), name)


def ref_shape(model, name, dims):
    """The output's shape when ONNX's reference implementation runs the graph."""
    x = np.random.default_rng(1).standard_normal(dims).astype(np.float32)
    return ReferenceEvaluator(model).run(None, {name: x})[0].shape


def save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return str(path)


# -- hand-built graphs ------------------------------------------------------------------------------
@pytest.mark.parametrize("auto_pad, lo", [("SAME_UPPER", 1), ("SAME_LOWER", 2), ("VALID", 0)])
def test_conv_auto_pad(auto_pad, lo):
    # 3x7x7, 4 filters 4x4, stride 2: SAME gives ceil(7/2) = 4 and pads (4-1)*2 + 4 - 7 = 3 in all,
    # 1 before and 2 after (UPPER) or 2 before and 1 after (LOWER); VALID gives floor((7-4)/2)+1 = 2
    n = 4 if auto_pad != "VALID" else 2
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[4, 4], strides=[2, 2], auto_pad=auto_pad)
    m = model_of([node], [vi("x", [1, 3, 7, 7])], [vi("y", None)], [weight("w", [4, 3, 4, 4]), weight("b", [4])])
    r = cc.analyze(from_onnx(m))
    row = r.rows[0]
    assert row.kind == "conv2d"
    assert tuple(row.output) == (4, n, n) == ref_shape(m, "x", (1, 3, 7, 7))[1:]
    assert r.totals["params"] == 4 * 3 * 4 * 4 + 4
    assert r.totals["macs"] == 4 * n * n * 3 * 4 * 4
    # the first unit's field is centred (k-1)/2 - p_lo pixels after the first pixel's centre (0.5)
    assert [float(a.start) for a in row.rf] == [0.5 + (4 - 1) / 2 - lo] * 2


def test_grouped_dilated_conv_asymmetric_pads():
    # 4 -> 8 channels in 2 groups, 3x3 dilated 2 (reach 5), pads top 1 left 0 bottom 2 right 1 on 10x9
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=2, dilations=[2, 2], pads=[1, 0, 2, 1])
    m = model_of([node], [vi("x", [1, 4, 10, 9])], [vi("y", None)], [weight("w", [8, 2, 3, 3])])
    r = cc.analyze(from_onnx(m))
    h, w = (10 + 1 + 2 - 5) + 1, (9 + 0 + 1 - 5) + 1
    assert tuple(r.rows[0].output) == (8, h, w) == ref_shape(m, "x", (1, 4, 10, 9))[1:]
    assert r.totals["params"] == 8 * (4 // 2) * 3 * 3
    assert r.totals["macs"] == 8 * h * w * (4 // 2) * 3 * 3


@pytest.mark.parametrize("op, extra, n", [
    ("MaxPool", {}, 3),                                  # ceil((6-3)/2)+1 = 3 (floor gives 2)
    ("AveragePool", {"pads": [1, 1, 1, 1], "count_include_pad": 1}, 4),  # ceil((6+2-3)/2)+1 = 4
])
def test_ceil_mode_pools(op, extra, n):
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, **extra)
    m = model_of([node], [vi("x", [1, 2, 6, 6])], [vi("y", None)])
    r = cc.analyze(from_onnx(m))
    assert r.rows[0].kind == ("maxpool2d" if op == "MaxPool" else "avgpool2d")
    assert tuple(r.rows[0].output) == (2, n, n) == ref_shape(m, "x", (1, 2, 6, 6))[1:]
    assert r.totals["macs"] == 0 and r.totals["params"] == 0


@pytest.mark.parametrize("opset", [19, 22])
def test_ceil_mode_window_starting_in_the_padding(opset):
    # L 2, k 1, s 2: ceil((2-1)/2)+1 = 2 windows, but the second starts at 2, past the input: PyTorch
    # and ONNX's spec drop it (1); opset 19's shape inference keeps it, and the reader says so
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[1, 1], strides=[2, 2], ceil_mode=1)
    model = from_onnx(model_of([node], [vi("x", [1, 3, 2, 2])], [vi("y", None)], opset=opset))
    r = cc.analyze(model)
    if opset >= 22:
        assert r.rows[0].kind == "maxpool2d" and tuple(r.rows[0].output) == (3, 1, 1) and not model.warnings
    else:
        assert tuple(r.rows[0].output) == (3, 2, 2)
        assert any("3x1x1" in w and "opset 19" in w for w in model.warnings)


def test_pool_with_asymmetric_pads_keeps_onnx_shape():
    # SAME_UPPER on 5 with k 2 s 2: out ceil(5/2) = 3, padding 1 after only (no PyTorch pool does that)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER")
    m = model_of([node], [vi("x", [1, 3, 5, 5])], [vi("y", None)])
    r = cc.analyze(from_onnx(m))
    assert tuple(r.rows[0].output) == (3, 3, 3) == ref_shape(m, "x", (1, 3, 5, 5))[1:]
    assert r.totals["macs"] == 0 and not cc.report.not_counted(r)


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_trans_b(trans_b):
    # 12 features -> 5: the weight is 5x12 with transB=1, 12x5 without
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=trans_b)
    wdims = [5, 12] if trans_b else [12, 5]
    m = model_of([node], [vi("x", [1, 12])], [vi("y", None)], [weight("w", wdims), weight("b", [5])])
    r = cc.analyze(from_onnx(m))
    assert r.rows[0].kind == "linear" and tuple(r.rows[0].output) == (5,) == ref_shape(m, "x", (1, 12))[1:]
    assert r.totals["params"] == 12 * 5 + 5
    assert r.totals["macs"] == 12 * 5


@pytest.mark.parametrize("kw, n, kind", [
    ({"pads": [1, 1, 1, 1], "output_padding": [1, 1]}, (5 - 1) * 2 - 2 * 1 + 3 + 1, "convtranspose2d"),
    ({"auto_pad": "SAME_UPPER"}, 5 * 2, "op"),  # ONNX's own padding rule: output L*s
])
def test_conv_transpose(kw, n, kind):
    # 4 -> 2 channels, 3x3, stride 2 on 5x5: MACs C_in*H_in*W_in*(C_out/g)*k*k, whatever the padding
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], strides=[2, 2], **kw)
    m = model_of([node], [vi("x", [1, 4, 5, 5])], [vi("y", None)], [weight("w", [4, 2, 3, 3]), weight("b", [2])])
    r = cc.analyze(from_onnx(m))
    assert r.rows[0].kind == kind
    assert tuple(r.rows[0].output) == (2, n, n) == ref_shape(m, "x", (1, 4, 5, 5))[1:]
    assert r.totals["params"] == 4 * 2 * 3 * 3 + 2
    assert r.totals["macs"] == 4 * 5 * 5 * 2 * 3 * 3


def _fixed_batch_8(reshape_to):
    # conv 3->2 k3 on 8x8 (2x6x6 = 72 per sample), reshape, Gemm 72 -> 4; the file's batch is 8
    shape = numpy_helper.from_array(np.array(reshape_to, np.int64), "shape")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Reshape", ["c", "shape"], ["f"]),
             helper.make_node("Gemm", ["f", "g"], ["y"], transB=1)]
    return model_of(nodes, [vi("x", [8, 3, 8, 8])], [vi("y", None)],
                    [weight("w", [2, 3, 3, 3]), weight("g", [4, 72]), shape])


def test_a_fixed_batch_of_8_reads_per_sample():
    # Reshape to [-1, 72] keeps the batch: read per sample, the same figures as a batch-1 file
    m = _fixed_batch_8([-1, 72])
    assert ref_shape(m, "x", (8, 3, 8, 8)) == (8, 4)
    r = cc.analyze(from_onnx(m))
    assert r.rows[-1].output == (4,)
    assert r.totals["params"] == 2 * 3 * 9 + 4 * 72
    assert r.totals["macs"] == 2 * 6 * 6 * 3 * 9 + 72 * 4


def test_a_batch_hard_coded_in_a_reshape_is_refused(tmp_path, run):
    # Reshape to [8, -1] only keeps the batch at 8: read at batch 1 it would give a 1-row matrix of
    # 8 x 9 "features" and a Gemm that does not fit, so the figures would be wrong; refused instead
    m = _fixed_batch_8([8, -1])
    assert ref_shape(m, "x", (8, 3, 8, 8)) == (8, 4)
    res = run(save(tmp_path, m))
    assert res.exit_code == 2 and res.stdout == ""
    assert "fixes the batch at 8" in res.stderr and res.stderr.count("\n") == 1



def test_a_fixed_batch_with_batch_free_side_tensors_reads_per_sample():
    """Batch fixed at 8, per sample, with tensors whose leading 1 is no batch: a bias unsqueezed
    at run time (1x8x1x1 at any batch) and the flatten's shape arithmetic (Shape, Gather,
    Unsqueeze: a 1-element vector at any batch). Refused before ("1x8x1x1 at batch 8, 1x8x1x1
    at batch 1"; found by review); the figures as the batch-1 arithmetic, the shape as ONNX's
    reference run gives it."""
    ints = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)  # noqa: E731
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Unsqueeze", ["b", "axes"], ["bu"]),
             helper.make_node("Add", ["c", "bu"], ["a"]),
             helper.make_node("Shape", ["a"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"]),
             helper.make_node("Unsqueeze", ["n", "first"], ["nu"]),
             helper.make_node("Concat", ["nu", "rest"], ["shape"], axis=0),
             helper.make_node("Reshape", ["a", "shape"], ["y"])]
    m = model_of(nodes, [vi("x", [8, 3, 6, 6])], [vi("y", None)],
                 [weight("w", [4, 3, 3, 3]), weight("b", [4]), ints("axes", [0, 2, 3]), ints("zero", 0),
                  ints("first", [0]), ints("rest", [-1])])
    assert ref_shape(m, "x", (8, 3, 6, 6)) == (8, 4 * 6 * 6)
    r = cc.analyze(from_onnx(m))
    assert tuple(r.rows[-1].output) == (4 * 6 * 6,)
    assert r.totals["params"] == 4 * 3 * 9 + 4
    assert r.totals["macs"] == 4 * 6 * 6 * 3 * 9


def test_a_mean_over_a_fixed_batch_is_refused(tmp_path, run):
    # ReduceMean over axis 0: 1x4x6x6 at batch 8 as at 1 (the same shape), but one row for the
    # whole batch: per sample figures would be wrong
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["c"], ["y"], axes=[0], keepdims=1)]
    m = model_of(nodes, [vi("x", [8, 3, 6, 6])], [vi("y", None)], [weight("w", [4, 3, 3, 3])])
    assert ref_shape(m, "x", (8, 3, 6, 6)) == (1, 4, 6, 6)
    res = run(save(tmp_path, m))
    assert res.exit_code == 2 and "fixes the batch at 8" in res.stderr and res.stderr.count("\n") == 1

def test_batch_folded_into_a_conv():
    # a sample of 6 channels run as two images of 3 (window partitions fold like this): two convs' MACs
    to2 = numpy_helper.from_array(np.array([2, 3, 8, 8], dtype=np.int64), "to2")
    back = numpy_helper.from_array(np.array([1, 8, 8, 8], dtype=np.int64), "back")
    nodes = [helper.make_node("Reshape", ["x", "to2"], ["r"]),
             helper.make_node("Conv", ["r", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["c", "back"], ["y"])]
    m = model_of(nodes, [vi("x", [1, 6, 8, 8])], [vi("y", None)], [to2, back, weight("w", [4, 3, 3, 3])])
    r = cc.analyze(from_onnx(m))
    assert tuple(r.rows[-1].output) == (8, 8, 8) == ref_shape(m, "x", (1, 6, 8, 8))[1:]
    assert r.totals["params"] == 4 * 3 * 3 * 3
    assert r.totals["macs"] == 2 * (4 * 8 * 8 * 3 * 3 * 3)


def test_norms_resize_reduce_softmax():
    # conv 3->4 3x3 p1 on 6x6, then ops with no MACs: instance norm (2*4 params), LRN, a resize x2
    # (scales as an input: not a parameter), a mean over H and W (axes as an input, opset 18), softmax
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    axes = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("InstanceNormalization", ["c", "g", "b"], ["n"]),
             helper.make_node("LRN", ["n"], ["l"], size=3),
             helper.make_node("Resize", ["l", "", "scales"], ["u"], mode="linear"),
             helper.make_node("ReduceMean", ["u", "axes"], ["m"], keepdims=0),
             helper.make_node("Softmax", ["m"], ["y"], axis=1)]
    inits = [weight("w", [4, 3, 3, 3]), weight("g", [4]), weight("b", [4], 1), scales, axes]
    m = model_of(nodes, [vi("x", [1, 3, 6, 6])], [vi("y", None)], inits, opset=18)
    r = cc.analyze(from_onnx(m))
    assert [row.kind for row in r.rows] == ["conv2d", "instancenorm2d", "localresponsenorm", "upsample", "reduce",
                                            "softmax"]
    assert [tuple(row.output) for row in r.rows] == [(4, 6, 6)] * 3 + [(4, 12, 12), (4,), (4,)]
    assert tuple(r.rows[-1].output) == ref_shape(m, "x", (1, 3, 6, 6))[1:]
    assert r.totals["params"] == 4 * 3 * 9 + 2 * 4
    assert r.totals["macs"] == 4 * 6 * 6 * 3 * 9


def test_shared_weight_counted_once_macs_twice():
    # one 3x3 weight 3->3 used by two convs in a row (padding 1 keeps 8x8)
    nodes = [helper.make_node("Conv", ["x", "w"], ["h"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w"], ["y"], pads=[1, 1, 1, 1])]
    m = model_of(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", None)], [weight("w", [3, 3, 3, 3])])
    r = cc.analyze(from_onnx(m))
    assert r.totals["params"] == 3 * 3 * 3 * 3
    assert r.totals["macs"] == 2 * (3 * 8 * 8 * 3 * 3 * 3)


def test_shape_constants_and_running_stats_are_not_parameters():
    # BN on 4 channels: 2*4 parameters, 2*4 running statistics (buffers, + PyTorch's counter);
    # Reshape's target shape is an int64 initializer, not a parameter; Gemm 4*2*2 -> 3
    shape = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape")
    nodes = [helper.make_node("BatchNormalization", ["x", "g", "b", "mu", "var"], ["n"]),
             helper.make_node("Reshape", ["n", "shape"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)]
    inits = [weight("g", [4]), weight("b", [4], 1), weight("mu", [4], 2), weight("var", [4], 3), shape,
             weight("w", [3, 16])]
    m = model_of(nodes, [vi("x", [1, 4, 2, 2])], [vi("y", None)], inits)
    r = cc.analyze(from_onnx(m))
    assert [row.kind for row in r.rows] == ["batchnorm2d", "flatten", "linear"]
    assert r.totals["params"] == 2 * 4 + 16 * 3
    assert r.totals["buffers"] == 2 * 4 + 1
    assert r.totals["macs"] == 16 * 3


def test_unknown_ops_are_counted_by_name(tmp_path, run):
    # two custom ops between two 1x1 convs (3 -> 3 on 4x4): their MACs are not counted, by name;
    # ONNX cannot size a custom op: it is taken as its input's size, and said
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"]),
             helper.make_node("Foo", ["a"], ["b"], domain="com.example"),
             helper.make_node("Foo", ["b"], ["c"], domain="com.example"),
             helper.make_node("Conv", ["c", "w2"], ["y"])]
    g = helper.make_graph(nodes, "g", [vi("x", [1, 3, 4, 4])], [vi("y", None)],
                          initializer=[weight("w", [3, 3, 1, 1]), weight("w2", [3, 3, 1, 1], 1)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    path = save(tmp_path, m)
    res = run(path)
    assert res.exit_code == 0, res.stderr
    assert "not counted: 2 ops, com.example.Foo \u00d72" in res.stdout
    data = json.loads(run(path, "--format", "json").stdout)
    assert data["not_counted"] == {"ops": 2, "by_op": {"com.example.Foo": 2}}
    assert data["totals"]["macs"] == 2 * (3 * 4 * 4 * 3)
    assert data["totals"]["params"] == 2 * 3 * 3
    assert any("taken as its input" in w for w in data.get("warnings", []))


def test_dynamic_batch_and_dynamic_sizes(tmp_path, run):
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])
    w = weight("w", [2, 3, 3, 3])
    fixed = save(tmp_path, model_of([node], [vi("x", ["N", 3, 9, 9])], [vi("y", None)], [w]), "batch.onnx")
    data = json.loads(run(fixed, "--format", "json", "--batch", "4").stdout)
    assert data["layers"][0]["output"] == [2, 7, 7]
    assert data["totals"]["macs"] == 4 * (2 * 7 * 7 * 3 * 3 * 3)  # --batch scales the MACs
    dyn = save(tmp_path, model_of([node], [vi("x", ["N", 3, "H", "W"])], [vi("y", None)], [w]), "dyn.onnx")
    res = run(dyn)
    assert res.exit_code == 2 and "'x'" in res.stderr and "(N, 3, H, W)" in res.stderr and "--input" in res.stderr
    data = json.loads(run(dyn, "--input", "3x12x10", "--format", "json").stdout)
    assert data["layers"][0]["output"] == [2, 12 - 2, 10 - 2]


def test_nhwc_input_as_keras_exports_it(tmp_path, run):
    # tf2onnx keeps Keras' H x W x C input and transposes before the conv: --input in the file's order
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w"], ["y"], kernel_shape=[3, 3], auto_pad="SAME_UPPER")]
    m = model_of(nodes, [vi("x", ["N", "H", "W", 3])], [vi("y", None)], [weight("w", [5, 3, 3, 3])])
    data = json.loads(run(save(tmp_path, m), "--input", "16x12x3", "--format", "json").stdout)
    assert data["input"] == [16, 12, 3]
    assert [row["output"] for row in data["layers"]] == [[3, 16, 12], [5, 16, 12]]
    assert data["totals"]["macs"] == 5 * 16 * 12 * 3 * 3 * 3


def test_external_weights_are_not_needed(tmp_path):
    # only the initializers' dims are read: a model saved with external data reads without the data
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3])
    m = model_of([node], [vi("x", [1, 8, 10, 10])], [vi("y", None)], [weight("w", [16, 8, 3, 3]), weight("b", [16])])
    path = str(tmp_path / "ext.onnx")
    onnx.save(m, path, save_as_external_data=True, location="ext.data", size_threshold=0)
    (tmp_path / "ext.data").unlink()
    r = cc.analyze(from_onnx(path))
    assert r.totals["params"] == 16 * 8 * 9 + 16
    assert r.totals["macs"] == 16 * 8 * 8 * 8 * 9


def test_python_api_and_verify(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["p"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
    inits = [weight("w", [6, 3, 3, 3]), weight("b", [6]), weight("fw", [10, 6]), weight("fb", [10])]
    path = save(tmp_path, model_of(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", None)], inits))
    r = cc.summary(path)  # the loader routes .onnx files like zoo names and spec files
    assert [row.kind for row in r.rows] == ["conv2d", "relu", "maxpool2d", "adaptiveavgpool2d", "flatten", "linear"]
    assert r.totals["params"] == 6 * 3 * 9 + 6 + 6 * 10 + 10
    assert r.totals["macs"] == 6 * 8 * 8 * 3 * 9 + 6 * 10
    from convcalc.verify import verify

    result = verify(from_onnx(path))
    assert result.ok


@settings(max_examples=40, deadline=None)
@given(size=st.tuples(st.integers(3, 11), st.integers(3, 11)), k=st.integers(1, 4), s=st.integers(1, 3),
       d=st.integers(1, 2), auto=st.sampled_from(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]),
       pads=st.tuples(*[st.integers(0, 3)] * 4), groups=st.sampled_from([1, 2]))
def test_convs_agree_with_onnx_execution(size, k, s, d, auto, pads, groups):
    """Any conv ONNX can size: convcalc's shape is the one ONNX's reference implementation computes
    by running it, and its MACs are C_out*H*W*(C_in/g)*k*k of that shape."""
    reach = d * (k - 1) + 1
    assume(auto != "NOTSET" or all(n + pads[i] + pads[i + 2] >= reach for i, n in enumerate(size)))
    assume(auto != "VALID" or all(n >= reach for n in size))
    kw = {"kernel_shape": [k, k], "strides": [s, s], "dilations": [d, d], "auto_pad": auto, "group": groups}
    kw.update({"pads": list(pads)} if auto == "NOTSET" else {})
    m = model_of([helper.make_node("Conv", ["x", "w"], ["y"], **kw)], [vi("x", [1, 4, *size])], [vi("y", None)],
                 [weight("w", [4, 4 // groups, k, k])])
    want = ref_shape(m, "x", (1, 4, *size))[1:]
    r = cc.analyze(from_onnx(m))
    assert r.rows[0].kind == "conv2d" and tuple(r.rows[0].output) == want
    assert r.totals["macs"] == 4 * want[1] * want[2] * (4 // groups) * k * k
    assert r.totals["params"] == 4 * (4 // groups) * k * k


@pytest.mark.parametrize("auto, size, k, s, want", [
    ("SAME_UPPER", 7, 3, 2, -(-7 // 2)),            # ceil(L/s)
    ("SAME_LOWER", 8, 2, 3, -(-8 // 3)),
    ("VALID", 7, 3, 2, (7 - 3) // 2 + 1),           # floor((L-k)/s)+1
    ("NOTSET", 6, 3, 2, (6 + 0 + 1 - 3) // 2 + 1),  # pads 0 before, 1 after
])
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_padding_forms(op, auto, size, k, s, want):
    kw = {"pads": [0, 0, 1, 1]} if auto == "NOTSET" else {}
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[k, k], strides=[s, s], auto_pad=auto, **kw)
    r = cc.analyze(from_onnx(model_of([node], [vi("x", [1, 2, size, size])], [vi("y", None)])))
    assert tuple(r.rows[0].output) == (2, want, want)
    assert r.totals["macs"] == 0 and not cc.report.not_counted(r)


# -- bad input through the CLI -------------------------------------------------------------------
def _bad(tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"])
    good = model_of([node], [vi("x", [1, 3, 4, 4])], [vi("y", None)]).SerializeToString()
    (tmp_path / "trunc.onnx").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.onnx").write_text("this is not a model\n")
    empty = helper.make_model(helper.make_graph([], "g", [vi("x", [1, 3])], []))
    onnx.save(empty, str(tmp_path / "empty.onnx"))
    onnx.save(model_of([node], [vi("x", [1, 3, 4, 4])], [vi("y", None)]), str(tmp_path / "ok.onnx"))
    return tmp_path


@pytest.mark.parametrize("args, words", [
    (["missing.onnx"], "no such file"),
    (["trunc.onnx"], "not a readable ONNX file"),
    (["text.onnx"], "ONNX"),
    (["empty.onnx"], "empty"),
    (["ok.onnx", "--input", "3x4"], "has 2 dims"),
    (["ok.onnx", "--input", "5x4x4"], "5 channels"),
    (["ok.onnx", "--input", "3xHxW"], "numeric"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, run, monkeypatch, args, words):
    monkeypatch.chdir(_bad(tmp_path))
    res = run(*args)
    assert res.exit_code == 2 and res.stdout == ""
    assert words in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr


def test_without_onnx_installed_says_how_to_install(tmp_path):
    import os
    import subprocess
    import sys

    path = _bad(tmp_path) / "ok.onnx"
    code = "import sys; sys.modules['onnx'] = None\nfrom convcalc.cli import main\nmain()"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    p = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == ["convcalc: error: reading ONNX files needs the onnx package: "
                                             "pip install 'convcalc[onnx]'"]


# -- torchvision models, exported by torch ---------------------------------------------------------
torchvision = tv.load()
needs_torch = pytest.mark.skipif(torchvision is None, reason="torch or torchvision not installed (see tests/tv.py)")


@needs_torch
@settings(max_examples=40, deadline=None)
@given(op=st.sampled_from(["MaxPool", "AveragePool"]), size=st.tuples(st.integers(2, 11), st.integers(2, 11)),
       k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 2), p=st.integers(0, 2), ceil=st.booleans(),
       include=st.booleans())
def test_pools_agree_with_torch(op, size, k, s, d, p, ceil, include):
    """Symmetric pads, ceil_mode, dilation: the shape torch computes for the same pool."""
    import torch
    import torch.nn.functional as tf

    d = 1 if op == "AveragePool" else d
    assume(p <= k // 2 and all(n + 2 * p >= d * (k - 1) + 1 for n in size))
    kw = {"kernel_shape": [k, k], "strides": [s, s], "pads": [p] * 4, "ceil_mode": int(ceil)}
    kw.update({"dilations": [d, d]} if op == "MaxPool" else {"count_include_pad": int(include)})
    m = model_of([helper.make_node(op, ["x"], ["y"], **kw)], [vi("x", [1, 3, *size])], [vi("y", None)], opset=19)
    x = torch.zeros(1, 3, *size)
    y = tf.max_pool2d(x, k, s, p, d, ceil_mode=ceil) if op == "MaxPool" else \
        tf.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include)
    model = from_onnx(m)
    r = cc.analyze(model)
    assert r.totals["macs"] == 0 and not cc.report.not_counted(r)
    if tuple(r.rows[0].output) != tuple(y.shape[1:]):  # opset 19's inference keeps a window in the padding
        assert ceil and [w for w in model.warnings if f"{'x'.join(map(str, y.shape[1:]))}; ONNX's size" in w]


def export(module, shape, path):
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, torch.randn(1, *shape), str(path), dynamo=False, input_names=["x"],
                          do_constant_folding=False)  # folding would fuse batch norms into convs
    return str(path)


def torch_truth(module, shape, train=False):
    """(parameters, MACs from FlopCounterMode, {module name: output shape per sample}); ``train``
    runs the forward in training mode (an eval forward of nn.MultiheadAttention takes a fused
    kernel that FlopCounterMode does not count)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    shapes, calls = {}, {}

    def hook(name):
        def record(mod, args, out):
            calls[name] = calls.get(name, 0) + 1
            if isinstance(out, torch.Tensor):
                shapes[name] = tuple(out.shape[1:])
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in module.named_modules() if n and not list(m.children())]
    counter = FlopCounterMode(display=False)
    module.train(train)
    with torch.no_grad(), counter:
        module(torch.randn(1, *shape))
    module.eval()
    for h in handles:
        h.remove()
    once = {n: s for n, s in shapes.items() if calls[n] == 1}
    return sum(p.numel() for p in module.parameters()), counter.get_total_flops() // 2, once


@needs_torch
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x0_5",
                                  "efficientnet_b0"])
def test_torchvision_exports(tmp_path, name):
    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms().crop_size[0]
    module = torchvision.models.get_model(name).eval()
    shape = (3, crop, crop)
    params, macs, shapes = torch_truth(module, shape)
    model = from_onnx(export(module, shape, tmp_path / f"{name}.onnx"))
    r = cc.analyze(model)
    assert r.totals["params"] == params == weights.meta["num_params"]
    assert r.totals["macs"] == macs
    digits = len(str(weights.meta["_ops"]).split(".")[1])
    assert round(r.totals["macs"] / 1e9, digits) == weights.meta["_ops"]
    assert not cc.report.not_counted(r) and not model.warnings
    rows = {row.name: tuple(row.output) for row in r.rows}
    compared = [n for n in shapes if n in rows]
    convs = [n for n, m in module.named_modules() if isinstance(m, torchvision.models.resnet.nn.Conv2d)]
    assert len(compared) >= len(convs)  # every conv and more are rows named as torch names them
    assert {n: rows[n] for n in compared} == {n: shapes[n] for n in compared}


@needs_torch
def test_small_vision_transformer(tmp_path):
    # attention: the Q K^T and A V products count as MACs (DESIGN §2, as from_torch counts them)
    from torchvision.models.vision_transformer import VisionTransformer

    module = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                               mlp_dim=64, num_classes=10).eval()
    params, macs, shapes = torch_truth(module, (3, 32, 32), train=True)  # dropout 0: train computes the same
    r = cc.analyze(from_onnx(export(module, (3, 32, 32), tmp_path / "vit.onnx")))
    assert r.totals["params"] == params
    t, d = (32 // 8) ** 2 + 1, 32  # 16 patches and the class token, of width 32
    per_layer = t * d * 3 * d + t * d * d + 2 * (t * t * d) + 2 * (t * d * 64)  # qkv, out, QK^T and AV, MLP
    assert r.totals["macs"] == d * 16 * (3 * 8 * 8) + 2 * per_layer + d * 10
    # FlopCounterMode sees the projections; the CPU attention kernel's two products it does not count
    assert r.totals["macs"] == macs + 2 * 2 * (t * t * d)
    assert not cc.report.not_counted(r)
    assert tuple(r.rows[-1].output) == (10,)
