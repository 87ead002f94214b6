"""Tests for odconv_onnx.py (export_onnx) and the .onnx form of odconv_export.py's command line.

Run from the repository root (what .ci/run does):

    /usr/bin/python3 -m unittest discover -s tools/export -v

The whole module is skipped without PyTorch. The tests that read the exported graph need the ``onnx``
package (apt-get install python3-onnx, or pip install onnx) and are skipped, saying so, without it; the
error and command-line tests run without it. Running the exported files (ONNX Runtime with odconv's
operator library) is tested from Java. Everything is seeded: the models, their random weights and inputs.
"""

import contextlib
import copy
import io
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import types
import unittest
import warnings

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:  # pragma: no cover - depends on the machine
    raise unittest.SkipTest(f"the ONNX exporter tests need PyTorch and NumPy ({e}); "
                            "install them, e.g. apt-get install -y python3-torch")

try:
    import onnx
    from onnx import helper, numpy_helper
except ImportError as e:  # pragma: no cover - depends on the machine
    onnx = None
    ONNX_MISSING = (f"reading the exported graph needs the onnx package ({e}); "
                    "install it, e.g. apt-get install -y python3-onnx or pip install onnx")
else:
    ONNX_MISSING = ""

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOOLS = REPO / "tools"
EXPORTER = HERE / "odconv_export.py"
for _p in (str(TOOLS), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import odconv_export  # noqa: E402
from odconv_export import UnsupportedModuleError, find_odconv_layers  # noqa: E402
from odconv_onnx import DOMAIN, OP_TYPE, OP_VERSION, TO_NCHW, TO_NHWC, export_onnx  # noqa: E402
from odconv_reference.modules import ODConv2d as SeedODConv2d  # noqa: E402  (the YOLO-style seed module)
from odconv_reference.modules import OsvaiODConv2d, randomize  # noqa: E402  (the official OSVAI module)
from odconv_reference.yolo_net import YoloODConvNet  # noqa: E402

needs_onnx = unittest.skipIf(onnx is None, ONNX_MISSING)

#: The ODConv modules of YoloODConvNet, in model order, and what sets them apart.
YOLO_NET_LAYERS = ["down1", "stage1.cv2", "down2", "stage2.cv2", "down3", "reduce", "fuse"]
OSVAI = {"stage2.cv2", "reduce"}
DEPTHWISE = {"stage2.cv2"}
KERNEL_1 = {"reduce", "fuse"}
KERNEL_NUM_1 = {"stage1.cv2", "down3", "fuse"}

#: The warnings export_onnx silences (PyTorch 1.13), as they read.
# PyTorch 1.13 raises the custom node's shape-inference warning as a Python warning, which export_onnx
# filters; PyTorch 2.x prints it from C++ (TORCH_WARN) past Python's filters (seen with 2.11).
TORCH_WARNS_IN_PYTHON = int(torch.__version__.split(".")[0]) < 2
SILENCED = re.compile(r"'torch\.onnx\._patch_torch\._graph_op' is deprecated"
                      r"|The shape inference of (org\.odconv::ODConv2d|prim::Constant) type is missing")

ACTIVATIONS = {nn.SiLU: "silu", nn.ReLU: "relu", nn.Identity: "identity"}


def yolo_net(seed=1, trained=True):
    """YoloODConvNet(16), in eval mode; ``trained``: random weights and statistics (else PyTorch's init)."""
    torch.manual_seed(seed)
    net = YoloODConvNet(16)
    if trained:
        randomize(net, torch.Generator().manual_seed(seed), scaled_by_fan_in=True)
    return net.eval()


def single_seed_layer(seed=2):
    """One seed ODConv layer (stride 2, 2 kernels, ReLU) with temperature 3 and eps 1e-3 on both BatchNorms."""
    torch.manual_seed(seed)
    layer = SeedODConv2d(16, 24, 3, s=2, kernel_num=2, act=nn.ReLU())
    randomize(layer, torch.Generator().manual_seed(seed), scaled_by_fan_in=True)
    layer.update_temperature(3.0)
    layer.bn.eps = 1e-3
    layer.attention.fc.bn.eps = 1e-3
    return layer.eval()


def state_tensors(module):
    """The module's state_dict entries the node takes, in order (num_batches_tracked left out)."""
    return [(k, v) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")]


def expected_attributes(module):
    """The node attributes of an ODConv module, read from the module itself (not through the exporter)."""
    def one(value):
        return value[0] if isinstance(value, (tuple, list)) else value

    attention = module.attention
    osvai = isinstance(attention.fc, nn.Conv2d)
    trunk_conv = attention.fc if osvai else attention.fc.conv
    trunk_bn = attention.bn if osvai else attention.fc.bn
    bn = module._modules.get("bn")
    return {
        **{name: int(one(getattr(module, name))) for name in ("in_planes", "out_planes", "kernel_size", "stride",
                                                               "padding", "dilation", "groups", "kernel_num")},
        "attention_channels": trunk_conv.out_channels,
        "batch_norm": int(bn is not None),
        "activation": ACTIVATIONS[type(module.act)] if bn is not None else "identity",
        "temperature": float(attention.temperature),
        "bn_eps": float(bn.eps) if bn is not None else 1e-5,
        "attention_bn_eps": float(trunk_bn.eps),
    }


def node_attributes(node):
    values = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        values[attribute.name] = value.decode() if isinstance(value, bytes) else value
    return values


def odconv_nodes(model_proto):
    return [n for n in model_proto.graph.node if (n.domain, n.op_type) == (DOMAIN, OP_TYPE)]


def wrapping_transposes(model_proto, node):
    """The Transposes that feed an NHWC ODConv node and read its output (each None where there is none)."""
    producer = next((n for n in model_proto.graph.node if node.input[0] in n.output), None)
    consumers = [n for n in model_proto.graph.node if node.output[0] in n.input]
    return producer, consumers[0] if len(consumers) == 1 else None


def perm(node):
    return tuple(helper.get_attribute_value(next(a for a in node.attribute if a.name == "perm")))


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def outputs(model, x):
    with torch.no_grad():
        y = model(x)
    return [t.clone() for t in (y if isinstance(y, (tuple, list)) else (y,))]


class TempDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="odconv-onnx-test-")
        self.addCleanup(self.tmp.cleanup)
        self.dir = pathlib.Path(self.tmp.name)


# ------------------------------------------------------------------------------------------------------
# A whole network: YoloODConvNet(16)
# ------------------------------------------------------------------------------------------------------

@needs_onnx
class YoloNetTest(unittest.TestCase):
    """YoloODConvNet(16) (random weights, eps 1e-3, temperatures 2.5 and 0.7) exported once, checked in parts."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="odconv-onnx-test-")
        cls.net = yolo_net()
        cls.modules = dict(cls.net.named_modules())
        cls.x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
        cls.before = outputs(cls.net, cls.x)
        cls.state_before = copy.deepcopy(cls.net.state_dict())
        cls.path = pathlib.Path(cls.tmp.name) / "net.onnx"
        cls.names = export_onnx(cls.net, cls.x, str(cls.path), output_names=["p8", "p16"])
        cls.model = onnx.load(str(cls.path))
        cls.initializers = {t.name: t for t in cls.model.graph.initializer}
        cls.nodes = {n.input[1][:-len(".weight")]: n for n in odconv_nodes(cls.model)}  # input 1: NAME.weight

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_one_node_per_odconv_module_in_model_order(self):
        expected = [layer.name for layer in find_odconv_layers(self.net)]
        self.assertEqual(expected, YOLO_NET_LAYERS)
        self.assertEqual(self.names, expected)
        self.assertEqual([n.input[1] for n in odconv_nodes(self.model)], [f"{name}.weight" for name in expected])
        for node in odconv_nodes(self.model):
            self.assertEqual(len(node.output), 1)

    def test_nothing_of_the_odconv_modules_is_left_outside_their_nodes(self):
        for name, node in self.nodes.items():
            scope = "/" + name.replace(".", "/") + "/"
            with self.subTest(layer=name):
                to_nhwc, to_nchw = wrapping_transposes(self.model, node)
                self.assertEqual((to_nhwc.op_type, perm(to_nhwc)), ("Transpose", TO_NHWC))
                self.assertEqual((to_nchw.op_type, perm(to_nchw)), ("Transpose", TO_NCHW))
                others = [n.name for n in self.model.graph.node
                          if n not in (node, to_nhwc, to_nchw) and n.name.startswith(scope)]
                self.assertEqual(others, [], "ops of the ODConv decomposition left in the module's scope")
                readers = [n.name for n in self.model.graph.node if n is not node
                           and any(i.startswith(name + ".") for i in n.input)]
                self.assertEqual(readers, [], "other nodes read the module's parameters")
                own = sorted(i for i in self.initializers if i.startswith(name + "."))
                self.assertEqual(own, sorted(node.input[1:]))

    def test_the_rest_is_ordinary_onnx(self):
        onnx.checker.check_model(self.model)
        others = [n for n in self.model.graph.node if (n.domain, n.op_type) != (DOMAIN, OP_TYPE)]
        self.assertEqual({n.domain for n in others}, {""})
        op_types = {n.op_type for n in others}
        for op in ("Conv", "MaxPool", "Concat", "Add", "Sigmoid", "Mul"):
            self.assertIn(op, op_types)
        self.assertTrue(op_types & {"Resize", "Upsample"}, op_types)
        self.assertNotIn("BatchNormalization", op_types, "exported in eval mode: BatchNorms fold into the convs")
        self.assertEqual(sum(n.op_type == "MaxPool" for n in others), 3)

    def test_opset_imports(self):
        imports = {op.domain or "ai.onnx": op.version for op in self.model.opset_import}
        self.assertEqual(imports, {"ai.onnx": 17, DOMAIN: OP_VERSION})
        self.assertEqual(OP_VERSION, 1)

    def test_named_inputs_and_outputs_with_a_symbolic_batch(self):
        graph = self.model.graph
        self.assertEqual([i.name for i in graph.input], ["input"])
        self.assertEqual(dims(graph.input[0]), ["batch", 3, 64, 64])
        self.assertEqual([o.name for o in graph.output], ["p8", "p16"])
        for output in graph.output:
            self.assertEqual(dims(output)[0], "batch")
        for name, node in self.nodes.items():
            self.assertFalse(node.input[0] in self.initializers, name)

    def test_parameters_are_the_module_tensors_bit_for_bit(self):
        for name, node in self.nodes.items():
            expected = state_tensors(self.modules[name])
            with self.subTest(layer=name):
                self.assertEqual(list(node.input[1:]), [f"{name}.{key}" for key, _ in expected])
                layer = next(l for l in find_odconv_layers(self.net) if l.name == name)
                self.assertEqual(list(node.input[1:]), [n for n, _ in layer.tensors])  # canonical order
                for input_name, (key, tensor) in zip(node.input[1:], expected):
                    self.assertIn(input_name, self.initializers, f"{input_name} is not an initializer")
                    array = numpy_helper.to_array(self.initializers[input_name])
                    self.assertEqual(array.dtype, np.float32, input_name)
                    self.assertEqual(list(array.shape), list(tensor.shape), input_name)
                    self.assertTrue(np.array_equal(array.view(np.uint32),
                                                   tensor.detach().numpy().view(np.uint32)), input_name)

    def test_attributes_are_the_module_configuration(self):
        for name, node in self.nodes.items():
            expected = expected_attributes(self.modules[name])
            actual = node_attributes(node)
            with self.subTest(layer=name):
                self.assertEqual(actual.pop("layout"), "NHWC")
                self.assertEqual(set(actual), set(expected))
                for key, value in expected.items():
                    if isinstance(value, float):
                        self.assertEqual(np.float32(actual[key]), np.float32(value), key)
                    else:
                        self.assertEqual(actual[key], value, key)
                types_ = {a.name: a.type for a in node.attribute}
                self.assertEqual(types_["activation"], onnx.AttributeProto.STRING)
                self.assertEqual(types_["temperature"], onnx.AttributeProto.FLOAT)
                self.assertEqual(types_["in_planes"], onnx.AttributeProto.INT)
                self.assertEqual(np.float32(actual["attention_bn_eps"]), np.float32(1e-3))
                if name not in OSVAI:
                    self.assertEqual(np.float32(actual["bn_eps"]), np.float32(1e-3))
        attributes = {name: node_attributes(node) for name, node in self.nodes.items()}
        self.assertEqual(np.float32(attributes["down2"]["temperature"]), np.float32(2.5))
        self.assertEqual(np.float32(attributes["reduce"]["temperature"]), np.float32(0.7))
        self.assertEqual(attributes["fuse"]["activation"], "relu")
        self.assertEqual(attributes["down1"]["activation"], "silu")
        self.assertEqual(attributes["down1"]["stride"], 2)
        self.assertEqual(attributes["stage1.cv2"]["groups"], 2)

    def test_inputs_follow_the_configuration(self):
        for name, node in self.nodes.items():
            heads = {i[len(name) + 1:] for i in node.input[1:]}
            attributes = node_attributes(node)
            with self.subTest(layer=name):
                osvai_bn = {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}
                if name in OSVAI:
                    self.assertEqual(attributes["batch_norm"], 0)
                    self.assertEqual(attributes["activation"], "identity")
                    self.assertFalse(heads & osvai_bn, "an OSVAI layer has no trailing BatchNorm inputs")
                    self.assertIn("attention.bn.running_var", heads)
                else:
                    self.assertEqual(attributes["batch_norm"], 1)
                    self.assertLessEqual(osvai_bn, heads)
                self.assertEqual("attention.filter_fc.weight" in heads, name not in DEPTHWISE)
                self.assertEqual("attention.spatial_fc.weight" in heads, name not in KERNEL_1)
                self.assertEqual("attention.kernel_fc.weight" in heads, name not in KERNEL_NUM_1)
                self.assertIn("attention.channel_fc.bias", heads)
        self.assertEqual(len(self.nodes["down1"].input), 1 + 18)  # every head and both BatchNorms

    def test_model_is_left_as_it_was(self):
        self.assertFalse(self.net.training)
        self.assertFalse(any(m.training for m in self.net.modules()))
        state = self.net.state_dict()
        for key, tensor in self.state_before.items():
            self.assertTrue(torch.equal(state[key], tensor), key)
        for name in YOLO_NET_LAYERS:
            module = self.modules[name]
            with self.subTest(layer=name):
                self.assertNotIn("forward", vars(module))
                self.assertFalse(hasattr(module, "_odconv_module_forward"))
                self.assertIs(module.forward.__func__, type(module).forward)
        after = outputs(self.net, self.x)
        self.assertEqual(len(after), 2)
        for a, b in zip(self.before, after):
            self.assertTrue(torch.equal(a, b))


# ------------------------------------------------------------------------------------------------------
# A model that is one ODConv layer, untrained models, modes, warnings
# ------------------------------------------------------------------------------------------------------

@needs_onnx
class SingleLayerTest(TempDir):
    def export(self, model, x, **kwargs):
        path = self.dir / "model.onnx"
        names = export_onnx(model, x, str(path), **kwargs)
        return names, onnx.load(str(path))

    def check_single(self, layer, x, channels_last=True):
        """By default the node takes NHWC between a Transpose from the input and one to the output; with
        channels_last=False it is the graph's one node, NCHW."""
        names, model = self.export(layer, x, channels_last=channels_last)
        self.assertEqual(names, ["odconv"])
        onnx.checker.check_model(model)
        expected = state_tensors(layer)
        if channels_last:
            self.assertEqual([(n.domain, n.op_type) for n in model.graph.node],
                             [("", "Transpose"), (DOMAIN, OP_TYPE), ("", "Transpose")])
            to_nhwc, node, to_nchw = model.graph.node
            self.assertEqual((list(to_nhwc.input), perm(to_nhwc)), (["input"], TO_NHWC))
            self.assertEqual((list(to_nchw.input), list(to_nchw.output), perm(to_nchw)),
                             ([node.output[0]], ["output"], TO_NCHW))
            self.assertEqual(list(node.input), [to_nhwc.output[0]] + [key for key, _ in expected])
        else:
            self.assertEqual([(n.domain, n.op_type) for n in model.graph.node], [(DOMAIN, OP_TYPE)])
            node = model.graph.node[0]
            self.assertEqual(list(node.input), ["input"] + [key for key, _ in expected])
        initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.assertEqual(set(initializers), {key for key, _ in expected})
        for key, tensor in expected:
            self.assertTrue(np.array_equal(initializers[key].view(np.uint32), tensor.numpy().view(np.uint32)), key)
        self.assertEqual([o.name for o in model.graph.output], ["output"])
        self.assertEqual(dims(model.graph.input[0])[0], "batch")
        self.assertEqual(dims(model.graph.output[0])[0], "batch")
        attributes = node_attributes(node)
        self.assertEqual(attributes.pop("layout", "NCHW"), "NHWC" if channels_last else "NCHW")
        self.assertEqual(set(attributes), set(expected_attributes(layer)))
        for key, value in expected_attributes(layer).items():
            if isinstance(value, float):
                self.assertEqual(np.float32(attributes[key]), np.float32(value), key)
            else:
                self.assertEqual(attributes[key], value, key)
        return attributes

    def test_seed_layer(self):
        layer = single_seed_layer()
        x = torch.randn(1, 16, 20, 20, generator=torch.Generator().manual_seed(4))
        before = outputs(layer, x)
        attributes = self.check_single(layer, x)
        self.assertEqual(np.float32(attributes["temperature"]), np.float32(3.0))
        self.assertEqual(np.float32(attributes["bn_eps"]), np.float32(1e-3))
        self.assertEqual(np.float32(attributes["attention_bn_eps"]), np.float32(1e-3))
        self.assertEqual((attributes["activation"], attributes["batch_norm"], attributes["kernel_num"]), ("relu", 1, 2))
        self.assertNotIn("forward", vars(layer))
        self.assertTrue(torch.equal(outputs(layer, x)[0], before[0]))

    def test_osvai_layers(self):
        torch.manual_seed(5)
        cases = {
            "depthwise, kernel_num 1": OsvaiODConv2d(16, 16, 3, padding=1, groups=16, kernel_num=1),
            "k 1, kernel_num 4": OsvaiODConv2d(16, 32, 1, kernel_num=4),
        }
        for label, layer in cases.items():
            with self.subTest(label):
                randomize(layer, torch.Generator().manual_seed(6), scaled_by_fan_in=True)
                layer.update_temperature(0.5)
                attributes = self.check_single(layer.eval(), torch.randn(2, 16, 9, 9))
                self.assertEqual((attributes["batch_norm"], attributes["activation"]), (0, "identity"))
                self.assertEqual(np.float32(attributes["temperature"]), np.float32(0.5))

    def test_channels_first_on_request(self):
        layer = single_seed_layer()
        attributes = self.check_single(layer, torch.randn(1, 16, 12, 12), channels_last=False)
        self.assertEqual(attributes["kernel_num"], 2)

    def test_a_forward_set_on_the_instance_is_put_back(self):
        layer = single_seed_layer()
        own = types.MethodType(type(layer).forward, layer)
        layer.forward = own
        self.check_single(layer, torch.randn(1, 16, 12, 12))
        self.assertIs(vars(layer)["forward"], own)
        self.assertFalse(hasattr(layer, "_odconv_module_forward"))

    def test_equal_parameters_stay_separate_initializers(self):
        # PyTorch's own initialization: BatchNorm statistics and many biases are equal across layers, which
        # torch.onnx merges into one initializer read through Identity nodes unless told otherwise.
        net = yolo_net(trained=False)
        _, model = self.export(net, torch.randn(1, 3, 32, 32))
        initializers = {t.name for t in model.graph.initializer}
        nodes = odconv_nodes(model)
        self.assertEqual(len(nodes), len(YOLO_NET_LAYERS))
        for node in nodes:
            self.assertEqual([i for i in node.input[1:] if i not in initializers], [], node.name)
        identity_outputs = {o for n in model.graph.node if n.op_type == "Identity" for o in n.output}
        self.assertFalse(identity_outputs & {i for n in nodes for i in n.input})

    def test_train_mode_is_exported_as_eval_and_every_flag_restored(self):
        net = yolo_net()
        net.train()
        net.sppf.eval()          # mixed modes, as when freezing a part
        net.down2.bn.eval()
        modes = {name: m.training for name, m in net.named_modules()}
        state = copy.deepcopy(net.state_dict())
        _, model = self.export(net, torch.randn(2, 3, 32, 32), output_names=["a", "b"])
        self.assertEqual({name: m.training for name, m in net.named_modules()}, modes)
        for key, tensor in net.state_dict().items():  # the probe run did not update running statistics
            self.assertTrue(torch.equal(tensor, state[key]), key)
        self.assertNotIn("BatchNormalization", {n.op_type for n in model.graph.node})
        self.assertEqual(len(odconv_nodes(model)), len(YOLO_NET_LAYERS))

    def test_exactly_the_custom_node_warnings_are_silenced(self):
        class Warns(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = single_seed_layer()

            def forward(self, x):
                warnings.warn("a warning of the model's own", UserWarning)
                return self.layer(x)

        filters = list(warnings.filters)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.export(Warns().eval(), torch.randn(1, 16, 12, 12))
        messages = [str(w.message) for w in caught]
        self.assertEqual([m for m in messages if SILENCED.match(m)], [])
        # the probe run and the trace both warn: nothing else is silenced
        self.assertGreaterEqual(messages.count("a warning of the model's own"), 2, messages)
        self.assertEqual(warnings.filters, filters)


# ------------------------------------------------------------------------------------------------------
# Errors (no onnx package needed)
# ------------------------------------------------------------------------------------------------------

class ErrorTest(TempDir):
    def assert_nothing_written_and_model_intact(self, model):
        self.assertEqual(os.listdir(self.dir), [])
        for module in model.modules():
            self.assertNotIn("forward", vars(module))
            self.assertFalse(hasattr(module, "_odconv_module_forward"))

    def test_output_names_count_mismatch(self):
        net = yolo_net()
        with self.assertRaisesRegex(ValueError, "output_names has 1 names, the model returns 2 outputs"):
            export_onnx(net, torch.randn(1, 3, 32, 32), str(self.dir / "net.onnx"), output_names=["only"])
        self.assert_nothing_written_and_model_intact(net)
        layer = single_seed_layer()
        with self.assertRaisesRegex(ValueError, "output_names has 2 names, the model returns 1 outputs"):
            export_onnx(layer, torch.randn(1, 16, 8, 8), str(self.dir / "layer.onnx"), output_names=["a", "b"])
        self.assert_nothing_written_and_model_intact(layer)

    def test_nested_and_dict_outputs_count_as_torch_onnx_flattens_them(self):
        class Nested(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = single_seed_layer()

            def forward(self, x):
                y = self.conv(x)
                return y, [y * 2, {"p": y + 1}]

        net = Nested()
        with self.assertRaisesRegex(ValueError, "output_names has 2 names, the model returns 3 outputs"):
            export_onnx(net, torch.randn(1, 16, 8, 8), str(self.dir / "net.onnx"), output_names=["a", "b"])
        export_onnx(net, torch.randn(1, 16, 8, 8), str(self.dir / "net.onnx"))
        if onnx is None:
            self.skipTest(ONNX_MISSING)
        graph = onnx.load(str(self.dir / "net.onnx"))
        self.assertEqual([o.name for o in graph.graph.output], ["output0", "output1", "output2"])

    def test_unsupported_module(self):
        torch.manual_seed(7)
        model = nn.Sequential(SeedODConv2d(16, 16, 3), nn.Conv2d(16, 16, 1), SeedODConv2d(16, 16, 3, act=nn.GELU()))
        with self.assertRaises(UnsupportedModuleError) as raised:
            export_onnx(model.eval(), torch.randn(1, 16, 8, 8), str(self.dir / "model.onnx"))
        self.assertIsInstance(raised.exception, ValueError)
        self.assertEqual(raised.exception.problems,
                         [("2", "activation GELU is not supported (silu, relu, identity)")])
        self.assert_nothing_written_and_model_intact(model)

    def test_no_odconv_modules(self):
        with self.assertRaisesRegex(ValueError, "no ODConv modules found"):
            export_onnx(nn.Conv2d(3, 8, 3), torch.randn(1, 3, 8, 8), str(self.dir / "plain.onnx"))
        self.assertEqual(os.listdir(self.dir), [])


# ------------------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------------------

class CommandLineTest(TempDir):
    def cli(self, *args):
        """The exporter as a user runs it: a new process."""
        return subprocess.run([sys.executable, str(EXPORTER), *map(str, args)], capture_output=True, text=True,
                              timeout=300, cwd=self.dir)

    def main(self, *args):
        """odconv_export.main in this process: (exit status, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = odconv_export.main([str(a) for a in args])
            except SystemExit as e:  # argparse's own errors
                status = e.code
        return status, out.getvalue(), err.getvalue()

    def assert_one_error_line(self, stderr, *fragments):
        lines = stderr.splitlines()
        self.assertEqual(len(lines), 1, stderr)
        self.assertTrue(lines[0].startswith("odconv_export: error: "), stderr)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])

    def save_net(self, obj=None):
        path = self.dir / "net.pt"
        torch.save(yolo_net() if obj is None else obj, path)
        return path

    def test_onnx_output(self):
        net = yolo_net()
        model = self.save_net(net)
        out = self.dir / "net.onnx"
        result = self.cli("--model", model, "--output", out, "--input-shape", "1,3,64,64", "--path", TOOLS)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(), [layer.describe() for layer in find_odconv_layers(net)])
        self.assertEqual(len(result.stdout.splitlines()), len(YOLO_NET_LAYERS))
        if TORCH_WARNS_IN_PYTHON:
            self.assertIsNone(SILENCED.search(result.stderr), result.stderr)
        self.assertTrue(out.is_file())
        if onnx is None:
            self.skipTest(ONNX_MISSING)
        graph = onnx.load(str(out))
        self.assertEqual([n.input[1] for n in odconv_nodes(graph)], [f"{n}.weight" for n in YOLO_NET_LAYERS])
        self.assertEqual({op.domain or "ai.onnx": op.version for op in graph.opset_import},
                         {"ai.onnx": 17, DOMAIN: 1})
        self.assertEqual(dims(graph.graph.input[0]), ["batch", 3, 64, 64])
        self.assertEqual([o.name for o in graph.graph.output], ["output0", "output1"])
        initializers = {t.name: numpy_helper.to_array(t) for t in graph.graph.initializer}
        self.assertTrue(np.array_equal(initializers["down2.weight"], net.down2.weight.detach().numpy()))

    def test_half_precision_checkpoint_with_output_names_and_opset(self):
        net = yolo_net()
        model = self.save_net({"epoch": 3, "model": copy.deepcopy(net).half()})  # as YOLOv5 saves them
        out = self.dir / "net.onnx"
        result = self.cli("--model", model, "--output", out, "--input-shape", "2,3,32,32", "--path", TOOLS,
                          "--output-names", "p8, p16", "--opset", "13", "--channels-first")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), len(YOLO_NET_LAYERS))
        if onnx is None:
            self.skipTest(ONNX_MISSING)
        graph = onnx.load(str(out))
        self.assertEqual([o.name for o in graph.graph.output], ["p8", "p16"])
        self.assertEqual({op.domain or "ai.onnx": op.version for op in graph.opset_import},
                         {"ai.onnx": 13, DOMAIN: 1})
        self.assertFalse([n for n in graph.graph.node if n.op_type == "Transpose"], "--channels-first: no Transposes")
        self.assertFalse([a for n in odconv_nodes(graph) for a in n.attribute if a.name == "layout"])
        initializers = {t.name: numpy_helper.to_array(t) for t in graph.graph.initializer}
        self.assertEqual(initializers["down1.weight"].dtype, np.float32)
        self.assertTrue(np.array_equal(initializers["down1.weight"],
                                       net.down1.weight.detach().half().float().numpy()))

    def test_missing_input_shape(self):
        model = self.save_net()
        out = self.dir / "net.onnx"
        result = self.cli("--model", model, "--output", out, "--path", TOOLS)
        self.assertIn(result.returncode, (1, 2))
        self.assertEqual(result.stdout, "")
        self.assert_one_error_line(result.stderr, "--input-shape N,C,H,W")
        self.assertFalse(out.exists())

    def test_options_that_do_not_fit_the_output(self):
        out = self.dir / "net.onnx"
        cases = [
            (["--output", out, "--input-shape", "1,3,64,64", "--names", "down1"], ["--names", ".onnx"]),
            (["--output", out, "--input-shape", "1,3,64,64", "--dtype", "f16"], ["--dtype", ".onnx"]),
            (["--output", out, "--input-shape", "1,3,64,64", "--names", "down1", "--dtype", "f32"],
             ["--names and --dtype"]),
            (["--output", out, "--input-shape", "1,3,64"], ["--input-shape '1,3,64' is not N,C,H,W"]),
            (["--output", out, "--input-shape", "1,3,0,64"], ["is not N,C,H,W"]),
            (["--output", self.dir / "net.safetensors", "--opset", "17"], ["--opset only applies to an .onnx"]),
            (["--output", self.dir / "net.safetensors", "--channels-first"],
             ["--channels-first only applies to an .onnx"]),
            (["--output", self.dir / "net.safetensors", "--input-shape", "1,3,64,64", "--output-names", "a"],
             ["--input-shape, --output-names only apply to an .onnx"]),
        ]
        for args, fragments in cases:
            with self.subTest(args=[str(a) for a in args]):
                status, stdout, stderr = self.main("--model", self.dir / "absent.pt", *args)
                self.assertEqual(status, 2)
                self.assertEqual(stdout, "")
                self.assert_one_error_line(stderr, *fragments)
                self.assertEqual(os.listdir(self.dir), [])

    def test_export_errors_are_one_line_exit_1(self):
        torch.manual_seed(8)
        model = self.save_net(nn.Sequential(SeedODConv2d(16, 16, 3, act=nn.GELU())))
        out = self.dir / "model.onnx"
        status, stdout, stderr = self.main("--model", model, "--output", out, "--input-shape", "1,16,8,8")
        self.assertEqual((status, stdout), (1, ""))
        self.assert_one_error_line(stderr, "0: activation GELU is not supported")
        self.assertFalse(out.exists())

        model = self.save_net()
        status, stdout, stderr = self.main("--model", model, "--output", out, "--input-shape", "1,3,32,32",
                                           "--output-names", "only")
        self.assertEqual((status, stdout), (1, ""))
        self.assert_one_error_line(stderr, "output_names has 1 names, the model returns 2 outputs")
        self.assertFalse(out.exists())


if __name__ == "__main__":
    unittest.main()
