#!/usr/bin/python3
"""Writes the ONNX Runtime fixtures of the Java tests (src/test/resources/onnx/) from PyTorch.

- ``yolo.onnx``: YoloODConvNet (tools/odconv_reference/yolo_net.py, width 8) exported with ``export_onnx``: seven
  ODConv nodes of both families among ordinary layers, each in NHWC between two Transposes (the default); inputs ``input_b1`` / ``input_b5`` and PyTorch's
  outputs ``expected_b1`` / ``expected_b5`` (tensors ``p8``, ``p16``), batch 1 and 5 from the one file.
- ``yolo_static.onnx``: its static twin (every ODConv a Conv2d+BN+activation) exported the ordinary way, which
  stock ONNX Runtime runs; ``expected_static_b5`` for ``input_b5``.
- ``single.onnx``: one YOLO-style ODConv layer (stride 2, groups 2, dilation 2, kernel_num 4, temperature 1.5,
  eps 1e-3), exported with ``channels_last=False`` (one NCHW node, nothing around it), whose input has no
  declared shape, so that the operator itself sees every input: inputs
  ``single_a`` / ``single_b`` at two spatial sizes, outputs ``single_a_expected`` / ``single_b_expected``
  (tensor ``output``).
- ``single_declared.onnx``: single.onnx with its input shape declared (for the operator's shape inference).
- ``bad_*.onnx``: single.onnx with one thing wrong each (see BAD_MODELS); sessions must refuse them.

Run from the repository root with PyTorch and the onnx package (Debian: python3-torch python3-onnx):

    /usr/bin/python3 tools/golden/make_onnx_fixtures.py
"""

import copy
import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOOLS, os.path.join(TOOLS, "export")]

import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from odconv_export import write_safetensors  # noqa: E402
from odconv_onnx import export_onnx, torchscript_exporter  # noqa: E402
from odconv_reference.modules import ODConv2d, randomize  # noqa: E402
from odconv_reference.yolo_net import YoloODConvNet, static_twin  # noqa: E402

SEED = 20260929
OUT = os.path.join("src", "test", "resources", "onnx")


def save_io(name, tensors):
    write_safetensors(os.path.join(OUT, name + ".safetensors"), tensors)


@torch.no_grad()
def yolo(generator):
    net = YoloODConvNet(width=8)
    randomize(net, generator, scaled_by_fan_in=True)
    net.eval()
    x5 = torch.randn(5, 3, 64, 64, generator=generator)
    export_onnx(net, x5[:1], os.path.join(OUT, "yolo.onnx"), output_names=["p8", "p16"])
    for name, x in (("b1", x5[2:3]), ("b5", x5)):
        p8, p16 = net(x)
        save_io("input_" + name, [("input", x)])
        save_io("expected_" + name, [("p8", p8), ("p16", p16)])

    # Its static twin, exported the ordinary way: a model stock ONNX Runtime runs (the CLI's --plain).
    twin = static_twin(net)
    randomize(twin, generator, scaled_by_fan_in=True)
    twin.eval()
    torch.onnx.export(twin, (x5[:1],), os.path.join(OUT, "yolo_static.onnx"), opset_version=17,
                      input_names=["input"], output_names=["p8", "p16"],
                      dynamic_axes={n: {0: "batch"} for n in ("input", "p8", "p16")}, **torchscript_exporter())
    p8, p16 = twin(x5)
    save_io("expected_static_b5", [("p8", p8), ("p16", p16)])


@torch.no_grad()
def single(generator):
    layer = ODConv2d(8, 16, 3, s=2, g=2, d=2, kernel_num=4)
    layer.update_temperature(1.5)
    randomize(layer, generator, scaled_by_fan_in=True)
    for m in layer.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-3
    layer.eval()
    path = os.path.join(OUT, "single.onnx")
    export_onnx(layer, torch.randn(1, 8, 16, 16, generator=generator), path, channels_last=False)
    model = onnx.load(path)
    # No declared shape: ONNX Runtime passes any tensor through, and the operator must judge it.
    model.graph.input[0].type.tensor_type.ClearField("shape")
    model.graph.output[0].type.tensor_type.ClearField("shape")
    onnx.save(model, path)
    for name, shape in (("single_a", (2, 8, 17, 23)), ("single_b", (1, 8, 32, 32))):
        x = torch.randn(*shape, generator=generator)
        save_io(name, [("input", x)])
        save_io(name + "_expected", [("output", layer(x))])
    return model


def _node(model):
    return next(n for n in model.graph.node if n.domain == "org.odconv")


def _set_attribute(model, name, value):
    node = _node(model)
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(kept)
    if value is not None:
        node.attribute.append(helper.make_attribute(name, value))


def _initializer(model, index):
    """The initializer feeding the ODConv node's input ``index``."""
    name = _node(model).input[index]
    return next(t for t in model.graph.initializer if t.name == name)


def bad_attribute(name, value):
    return lambda m: _set_attribute(m, name, value)


def bad_drop_last_input(model):
    node = _node(model)
    del node.input[len(node.input) - 1]


def bad_reshape_initializer(model):
    tensor = _initializer(model, 3)  # attention_bn_weight, [A]
    array = numpy_helper.to_array(tensor)
    tensor.CopyFrom(numpy_helper.from_array(array[:-1].copy(), tensor.name))


def bad_parameter_as_graph_input(model):
    tensor = _initializer(model, 1)  # the kernel bank
    model.graph.initializer.remove(tensor)
    model.graph.input.append(helper.make_tensor_value_info(tensor.name, onnx.TensorProto.FLOAT, list(tensor.dims)))


def _declare_input(model, dims):
    shape = model.graph.input[0].type.tensor_type.shape
    for d in dims:
        dim = shape.dim.add()
        if isinstance(d, int):
            dim.dim_value = d
        else:
            dim.dim_param = d


def declared_input(model):
    """single.onnx with its input declared [batch, 8, 32, 32] and its output still undeclared: what ONNX
    Runtime reports for the output then comes from the operator's shape inference."""
    _declare_input(model, ("batch", 8, 32, 32))


def bad_declared_channels(model):
    _declare_input(model, ("batch", 5, "height", "width"))


#: file name -> how single.onnx is broken; the Java test (OrtBadModelTest) names what each must say.
BAD_MODELS = {
    "bad_stride0": bad_attribute("stride", 0),
    "bad_activation": bad_attribute("activation", "gelu"),
    "bad_layout": bad_attribute("layout", "NCWH"),
    "bad_temperature_type": bad_attribute("temperature", 2),
    "bad_stride_list": bad_attribute("stride", [2, 2]),
    "bad_temperature_list": bad_attribute("temperature", [2.0]),
    "bad_missing_in_planes": bad_attribute("in_planes", None),
    "bad_missing_input": bad_drop_last_input,
    "bad_initializer_shape": bad_reshape_initializer,
    "bad_not_constant": bad_parameter_as_graph_input,
    "bad_declared_channels": bad_declared_channels,
}


def main():
    if not os.path.isdir(os.path.join("src", "test")):
        sys.exit("run from the repository root: /usr/bin/python3 tools/golden/make_onnx_fixtures.py")
    torch.set_num_threads(1)  # keep float summation order independent of the machine
    os.makedirs(OUT, exist_ok=True)
    generator = torch.Generator().manual_seed(SEED)
    yolo(generator)
    model = single(generator)
    declared = copy.deepcopy(model)
    declared_input(declared)
    onnx.save(declared, os.path.join(OUT, "single_declared.onnx"))
    for name, breaks in BAD_MODELS.items():
        broken = copy.deepcopy(model)
        breaks(broken)
        onnx.save(broken, os.path.join(OUT, name + ".onnx"))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"torch {torch.__version__}, onnx {onnx.__version__}: {len(os.listdir(OUT))} files, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
