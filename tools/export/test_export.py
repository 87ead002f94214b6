"""Tests for odconv_export.py: structure detection, metadata, unsupported modules, the command line, and
round trips through the Java CLI (F32, F16, BF16), layer by layer, against PyTorch.

Run from the repository root:

    /usr/bin/python3 -m unittest discover -s tools/export -v

The round-trip tests need target/odconv.jar (./mvnw -B -q -DskipTests package) and a Java 22+ runtime
($JAVA_HOME when it is 22+, else /usr/lib/jvm/temurin-25-jdk-amd64); they are skipped, saying what is
missing, without them. The whole module is skipped when PyTorch is not installed.
"""

import copy
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import textwrap
import unittest

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:  # pragma: no cover - depends on the machine
    raise unittest.SkipTest(f"the exporter tests need PyTorch and NumPy ({e}); "
                            "install them, e.g. apt-get install -y python3-torch")

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOOLS = REPO / "tools"
EXPORTER = HERE / "odconv_export.py"
JAR = REPO / "target" / "odconv.jar"
DEFAULT_JAVA = pathlib.Path("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java")
for _p in (str(TOOLS), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import odconv_export  # noqa: E402
from odconv_export import UnsupportedModuleError, export_odconv, find_odconv_layers  # noqa: E402
from odconv_export import write_safetensors  # noqa: E402
from odconv_reference.accuracy import error_and_tolerance  # noqa: E402
from odconv_reference.modules import ODConv2d as SeedODConv2d  # noqa: E402  (the YOLO-style seed module)
from odconv_reference.modules import OsvaiAttention, OsvaiODConv2d, randomize  # noqa: E402  (the official one)
from odconv_reference.safetensors_reader import SafeTensorsFile  # noqa: E402  (independent of the writer)


# ------------------------------------------------------------------------------------------------------
# A model mixing both families with ordinary layers
# ------------------------------------------------------------------------------------------------------

class Block(nn.Module):
    """A custom module holding a seed ODConv as ``conv``, followed by ordinary layers."""

    def __init__(self, c1, c2):
        super().__init__()
        self.conv = SeedODConv2d(c1, c2, 3, kernel_num=2, act=nn.ReLU())
        self.post = nn.Sequential(nn.BatchNorm2d(c2), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.post(self.conv(x)) + x


class Neck(nn.Module):
    def __init__(self):
        super().__init__()
        self.project = nn.Conv2d(48, 40, 1)                             # plain: channels 48 -> 40
        self.layers = nn.ModuleList([
            OsvaiODConv2d(40, 24, 1, kernel_num=1),                     # pw1x path, OSVAI
            SeedODConv2d(24, 24, 1, g=2, kernel_num=3, act=False),      # k = 1, kernel_num 3, groups, identity
            OsvaiODConv2d(24, 40, 5, stride=2, padding=2, groups=4, kernel_num=2),
        ])

    def forward(self, x):
        x = self.project(x)
        for layer in self.layers:
            x = layer(x)
        return x


class Net(nn.Module):
    """ODConv layers of both families nested in Sequential, ModuleList and custom modules.

    Ordinary layers between ODConv layers change the channel count (backbone.3: 32 -> 48, and Neck's
    input projection), as in real networks: the exported file is then not one chain, only its layers one by
    one (run --layer).
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
        self.backbone = nn.Sequential(
            SeedODConv2d(16, 32, 3, s=2, kernel_num=4),                 # stride 2, 4 kernels, SiLU
            Block(32, 32),                                              # backbone.1.conv
            OsvaiODConv2d(32, 32, 3, padding=1, groups=32, kernel_num=1),  # depthwise OSVAI
            nn.Conv2d(32, 48, 1),                                       # a plain conv: not an ODConv
        )
        self.neck = Neck()
        self.head = nn.Sequential(
            SeedODConv2d(40, 40, 3, g=40, d=2, kernel_num=2),           # depthwise, dilated (padding stays 1)
            SeedODConv2d(40, 48, 3, reduction=0.5, kernel_num=1),       # attention width 20: not the default
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10))

    def forward(self, x):
        return self.head(self.neck(self.backbone(self.stem(x))))


ODCONV_NAMES = ["backbone.0", "backbone.1.conv", "backbone.2", "neck.layers.0", "neck.layers.1",
                "neck.layers.2", "head.0", "head.1"]
OSVAI_NAMES = {"backbone.2", "neck.layers.0", "neck.layers.2"}


def build_net(seed=1234):
    """The test model, randomized, with temperatures and eps values that differ from the defaults."""
    torch.manual_seed(seed)
    net = Net()
    randomize(net)
    modules = dict(net.named_modules())
    modules["backbone.0"].update_temperature(2.5)
    modules["backbone.2"].update_temperature(0.5)
    modules["neck.layers.2"].update_temperature(4.0)
    # eps 1e-3 (YOLOv5's trained models) on some BatchNorms, with running variances small enough for it to
    # matter: exporting the wrong eps fails the round trip.
    with torch.no_grad():
        for bn in (modules["backbone.1.conv"].bn, modules["backbone.1.conv"].attention.fc.bn,
                   modules["neck.layers.0"].attention.bn):
            bn.eps = 1e-3
            bn.running_var.uniform_(0.002, 0.01)
    return net


def capture(model, names, x):
    """Runs ``model`` in eval mode without gradients; returns {name: (input, output)} of those modules."""
    seen, hooks = {}, []
    modules = dict(model.named_modules())
    for name in names:
        hooks.append(modules[name].register_forward_hook(
            lambda m, inputs, output, name=name: seen.__setitem__(name, (inputs[0].clone(), output.clone()))))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return seen


def expected_tensor_names(name, module):
    return [f"{name}.{k}" for k in module.state_dict() if not k.endswith("num_batches_tracked")]


# ------------------------------------------------------------------------------------------------------
# The Java command line
# ------------------------------------------------------------------------------------------------------

def java_major_version(java):
    try:
        result = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java():
    """(java path, None) or (None, why not)."""
    home = os.environ.get("JAVA_HOME")
    tried = []
    if home:
        java = pathlib.Path(home) / "bin" / "java"
        version = java_major_version(java)
        if version is not None and version >= 22:
            return java, None
        tried.append(f"$JAVA_HOME/bin/java ({java}) is {'missing' if version is None else f'Java {version}'}")
    version = java_major_version(DEFAULT_JAVA)
    if version is not None and version >= 22:
        return DEFAULT_JAVA, None
    tried.append(f"{DEFAULT_JAVA} is {'missing' if version is None else f'Java {version}'}")
    return None, "no Java 22+ runtime: " + "; ".join(tried)


class JavaRoundTrip(unittest.TestCase):
    """Base class: skipped unless target/odconv.jar and a Java 22+ runtime exist."""

    @classmethod
    def setUpClass(cls):
        missing = []
        if not JAR.is_file():
            missing.append(f"{JAR} is missing (build it: cd {REPO} && "
                           "JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 ./mvnw -B -q -DskipTests package)")
        cls.java, why = find_java()
        if why:
            missing.append(why)
        if missing:
            raise unittest.SkipTest("Java round trip skipped: " + "; ".join(missing))
        cls.tmp = tempfile.TemporaryDirectory(prefix="odconv-export-test-")
        cls.dir = pathlib.Path(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_layer(self, model_path, layer, x):
        """Runs one layer of the exported file through the Java CLI; returns the output as an array."""
        stem = layer.replace(".", "_")
        input_path, output_path = self.dir / f"{stem}-input.safetensors", self.dir / f"{stem}-output.safetensors"
        write_safetensors(str(input_path), [("input", x)])
        command = [str(self.java), "-jar", str(JAR), "run", "--model", str(model_path), "--layer", layer,
                   "--input", str(input_path), "--output", str(output_path)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, f"{' '.join(command)} failed:\n{result.stderr}{result.stdout}")
        return SafeTensorsFile(output_path).tensors["output"]

    def assert_close(self, layer, actual, expected):
        expected = expected.numpy()
        self.assertEqual(list(actual.shape), list(expected.shape), layer)
        error, tolerance = error_and_tolerance(expected, actual)
        self.assertLessEqual(error, tolerance, f"{layer}: max |java - pytorch| = {error:.3g} > {tolerance:.3g}")


def rounded_copy(module, dtype):
    """A deep copy in eval mode whose floating tensors went through ``dtype`` and back to float32."""
    module = copy.deepcopy(module).eval()
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(dtype).to(torch.float32))
    return module


class RoundTripTest(JavaRoundTrip):
    """Every exported layer, run alone by the Java CLI on the input it saw in PyTorch."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.net = build_net()
        torch.manual_seed(99)
        cls.x = torch.randn(2, 3, 20, 20)
        cls.seen = capture(cls.net, ODCONV_NAMES, cls.x)

    def check(self, dtype, names=None):
        path = self.dir / f"model-{dtype}.safetensors"
        exported = export_odconv(self.net, str(path), names=names, dtype=dtype)
        self.assertEqual(exported, names or ODCONV_NAMES)
        modules = dict(self.net.named_modules())
        for name in exported:
            with self.subTest(layer=name, dtype=dtype):
                x, expected = self.seen[name]
                if dtype != "f32":
                    with torch.no_grad():
                        expected = rounded_copy(modules[name], odconv_export.DTYPES[dtype][1])(x)
                self.assert_close(name, self.run_layer(path, name, x), expected)

    def test_f32_every_layer(self):
        self.check("f32")

    def test_f16_every_layer(self):
        self.check("f16")

    def test_bf16_every_layer(self):
        self.check("bf16")

    def test_names_subset(self):
        self.check("f32", names=["backbone.1.conv", "backbone.2"])

    def test_readme_steps_with_save_layer_io(self):
        """docs/pytorch.md's walk: export, save a layer's input and output, run it, compare."""
        model_path = self.dir / "readme.safetensors"
        input_path, expected_path = self.dir / "readme-x.safetensors", self.dir / "readme-expected.safetensors"
        output_path = self.dir / "readme-y.safetensors"
        export_odconv(self.net, str(model_path))
        self.net.eval()
        odconv_export.save_layer_io(self.net, self.x, "neck.layers.2", str(input_path), str(expected_path))
        command = [str(self.java), "-jar", str(JAR), "run", "--model", str(model_path), "--layer", "neck.layers.2",
                   "--input", str(input_path), "--output", str(output_path)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr)
        expected = torch.from_numpy(SafeTensorsFile(expected_path).tensors["output"].copy())
        self.assert_close("neck.layers.2", SafeTensorsFile(output_path).tensors["output"], expected)
        with self.assertRaisesRegex(ValueError, "no module 'nope'"):
            odconv_export.save_layer_io(self.net, self.x, "nope", str(input_path))

    def test_whole_chain_without_layer_option(self):
        """A file of consecutive ODConv layers runs as a chain: backbone.1.conv then backbone.2."""
        path = self.dir / "chain.safetensors"
        # In the model a residual add and a BatchNorm/ReLU sit between the two; build the same pair alone.
        pair = nn.Sequential(copy.deepcopy(dict(self.net.named_modules())["backbone.1.conv"]),
                             copy.deepcopy(dict(self.net.named_modules())["backbone.2"])).eval()
        self.assertEqual(export_odconv(pair, str(path)), ["0", "1"])
        x = self.seen["backbone.1.conv"][0]
        with torch.no_grad():
            expected = pair(x)
        input_path, output_path = self.dir / "chain-input.safetensors", self.dir / "chain-output.safetensors"
        write_safetensors(str(input_path), [("input", x)])
        result = subprocess.run([str(self.java), "-jar", str(JAR), "run", "--model", str(path), "--input",
                                 str(input_path), "--output", str(output_path)], capture_output=True, text=True,
                                timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assert_close("chain", SafeTensorsFile(output_path).tensors["output"], expected)


# ------------------------------------------------------------------------------------------------------
# Export without Java: structure, metadata, tensors, errors
# ------------------------------------------------------------------------------------------------------

class StructureTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="odconv-export-test-")
        self.dir = pathlib.Path(self.tmp.name)
        self.addCleanup(self.tmp.cleanup)
        self.net = build_net()
        self.modules = dict(self.net.named_modules())

    def export(self, model=None, **kwargs):
        path = self.dir / "model.safetensors"
        names = export_odconv(self.net if model is None else model, str(path), **kwargs)
        return names, SafeTensorsFile(path)

    def test_finds_exactly_the_odconv_modules_in_model_order(self):
        names, _ = self.export()
        self.assertEqual(names, ODCONV_NAMES)
        self.assertNotIn("backbone.3", names)  # the plain Conv2d
        self.assertNotIn("stem.0", names)

    def test_metadata(self):
        _, f = self.export()
        meta = f.odconv()
        self.assertEqual(meta["format_version"], 1)
        self.assertEqual([layer["name"] for layer in meta["layers"]], ODCONV_NAMES)
        fields = ["name", "in_planes", "out_planes", "kernel_size", "stride", "padding", "dilation", "groups",
                  "reduction", "kernel_num", "min_channel", "temperature", "act", "bn", "bn_eps", "attention_bn_eps"]
        layers = {layer["name"]: layer for layer in meta["layers"]}
        for name, layer in layers.items():
            with self.subTest(layer=name):
                self.assertEqual(sorted(layer), sorted(fields))
                for field in ("in_planes", "out_planes", "kernel_size", "stride", "padding", "dilation", "groups",
                              "kernel_num", "min_channel"):
                    self.assertIs(type(layer[field]), int, field)
                for field in ("reduction", "temperature", "bn_eps", "attention_bn_eps"):
                    self.assertIs(type(layer[field]), float, field)
                self.assertIs(type(layer["bn"]), bool)
                module = self.modules[name]
                trunk = module.attention.fc if name in OSVAI_NAMES else module.attention.fc.conv
                self.assertEqual(max(int(layer["in_planes"] * layer["reduction"]), layer["min_channel"]),
                                 trunk.out_channels)
        expected = {
            "backbone.0": dict(in_planes=16, out_planes=32, kernel_size=3, stride=2, padding=1, dilation=1, groups=1,
                               kernel_num=4, temperature=2.5, act="silu", bn=True, bn_eps=1e-5,
                               attention_bn_eps=1e-5, reduction=0.0625, min_channel=16),
            "backbone.1.conv": dict(in_planes=32, out_planes=32, kernel_size=3, stride=1, padding=1, kernel_num=2,
                                    act="relu", bn=True, bn_eps=1e-3, attention_bn_eps=1e-3, temperature=1.0),
            "backbone.2": dict(in_planes=32, out_planes=32, groups=32, padding=1, kernel_num=1, act="identity",
                               bn=False, bn_eps=1e-5, temperature=0.5),
            "neck.layers.0": dict(in_planes=40, out_planes=24, kernel_size=1, padding=0, kernel_num=1,
                                  act="identity", bn=False, attention_bn_eps=1e-3),
            "neck.layers.1": dict(kernel_size=1, groups=2, kernel_num=3, act="identity", bn=True, padding=0),
            "neck.layers.2": dict(in_planes=24, out_planes=40, kernel_size=5, stride=2, padding=2, groups=4,
                                  kernel_num=2, temperature=4.0, bn=False),
            "head.0": dict(groups=40, dilation=2, padding=1, kernel_num=2, act="silu"),
            "head.1": dict(in_planes=40, out_planes=48, kernel_num=1, min_channel=1),  # width 20 < default fit
        }
        for name, values in expected.items():
            for field, value in values.items():
                self.assertEqual(layers[name][field], value, f"{name}.{field}")
        self.assertAlmostEqual(layers["head.1"]["reduction"], 20.5 / 40)

    def test_tensors_follow_each_familys_state_dict(self):
        _, f = self.export()
        expected = [t for name in ODCONV_NAMES for t in expected_tensor_names(name, self.modules[name])]
        self.assertEqual(list(f.header), expected)  # state_dict order, layers in model order
        self.assertFalse([n for n in f.header if "num_batches_tracked" in n])
        names = set(f.header)
        self.assertIn("backbone.0.attention.fc.conv.weight", names)
        self.assertIn("backbone.0.attention.fc.bn.running_var", names)
        self.assertIn("backbone.0.bn.running_mean", names)
        self.assertIn("backbone.2.attention.fc.weight", names)
        self.assertIn("backbone.2.attention.bn.running_mean", names)
        self.assertNotIn("backbone.2.attention.filter_fc.weight", names)   # depthwise
        self.assertNotIn("backbone.2.bn.weight", names)                    # OSVAI: no trailing bn
        self.assertNotIn("neck.layers.0.attention.spatial_fc.weight", names)  # k == 1
        self.assertNotIn("head.1.attention.kernel_fc.weight", names)      # kernel_num == 1
        self.assertIn("neck.layers.1.attention.kernel_fc.bias", names)
        for name, array in f.tensors.items():
            tensor = self.net.state_dict()[name]
            self.assertEqual(f.header[name]["dtype"], "F32")
            np.testing.assert_array_equal(array, tensor.numpy(), err_msg=name)

    def test_layout_is_contiguous_and_padded(self):
        _, f = self.export()
        self.assertEqual(f.header_length % 8, 0)
        offset = 0
        for name, entry in f.header.items():
            begin, end = entry["data_offsets"]
            self.assertEqual(begin, offset, name)
            self.assertEqual(end - begin, 4 * int(np.prod(entry["shape"], dtype=np.int64)), name)
            offset = end
        self.assertEqual(offset, f.body_length)

    def test_half_precision_dtypes(self):
        for dtype, type_name, torch_dtype in (("f16", "F16", torch.float16), ("bf16", "BF16", torch.bfloat16)):
            with self.subTest(dtype=dtype):
                _, f = self.export(dtype=dtype)
                for name, array in f.tensors.items():
                    self.assertEqual(f.header[name]["dtype"], type_name)
                    rounded = self.net.state_dict()[name].to(torch_dtype).to(torch.float32).numpy()
                    np.testing.assert_array_equal(array, rounded, err_msg=name)
                offset = 0
                for entry in f.header.values():
                    self.assertEqual(entry["data_offsets"][0], offset)
                    offset = entry["data_offsets"][1]
                    self.assertEqual(offset - entry["data_offsets"][0], 2 * int(np.prod(entry["shape"])))

    def test_unknown_dtype(self):
        with self.assertRaisesRegex(ValueError, "unknown dtype 'f64'"):
            self.export(dtype="f64")
        self.assertFalse((self.dir / "model.safetensors").exists())

    def test_names_selects_in_model_order(self):
        names, f = self.export(names=["head.0", "backbone.2"])
        self.assertEqual(names, ["backbone.2", "head.0"])
        self.assertEqual([layer["name"] for layer in f.odconv()["layers"]], names)
        self.assertTrue(all(n.startswith(("backbone.2.", "head.0.")) for n in f.header))

    def test_unknown_name_lists_the_available_ones(self):
        with self.assertRaises(ValueError) as raised:
            self.export(names=["backbone.0", "backbone.3"])
        self.assertIn("'backbone.3'", str(raised.exception))
        self.assertIn("available: " + ", ".join(ODCONV_NAMES), str(raised.exception))
        self.assertFalse((self.dir / "model.safetensors").exists())

    def test_empty_or_single_string_names(self):
        with self.assertRaisesRegex(ValueError, "no layer names given; available: backbone.0, "):
            self.export(names=[])
        self.assertEqual(self.export(names="head.0")[0], ["head.0"])

    def test_no_odconv_modules(self):
        with self.assertRaisesRegex(ValueError, "no ODConv modules"):
            self.export(model=nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv3d(8, 8, 3)))

    def test_does_not_change_the_mode_or_the_weights(self):
        self.net.train()
        before = {k: v.clone() for k, v in self.net.state_dict().items()}
        self.export()
        self.assertTrue(all(m.training for m in self.net.modules()))
        self.net.eval()
        self.export()
        self.assertFalse(any(m.training for m in self.net.modules()))
        for key, value in self.net.state_dict().items():
            self.assertTrue(torch.equal(value, before[key]), key)

    def test_a_bare_odconv_module_is_named_odconv(self):
        names, f = self.export(model=SeedODConv2d(16, 16, 3))
        self.assertEqual(names, ["odconv"])
        self.assertIn("odconv.weight", f.header)

    def test_square_tuples_and_stored_min_channel(self):
        layer = OsvaiODConv2d(40, 40, 3, stride=2, padding=1, kernel_num=4)
        layer.attention = OsvaiAttention(40, 40, 3, reduction=0.0625, kernel_num=4, min_channel=8)
        layer.attention.min_channel = 8  # a variant that keeps its min_channel
        layer.kernel_size, layer.stride, layer.padding, layer.dilation = (3, 3), (2, 2), (1, 1), (1, 1)
        # The reference module's own forward cannot run with tuples: the export says it could not check it.
        with self.assertWarnsRegex(UserWarning, "0: not checked against the format's ODConv: its forward failed"):
            _, f = self.export(model=nn.Sequential(layer))
        config = f.odconv()["layers"][0]
        self.assertEqual((config["kernel_size"], config["stride"], config["padding"], config["dilation"]),
                         (3, 2, 1, 1))
        self.assertEqual((config["reduction"], config["min_channel"]), (0.0625, 8))

    def test_fp16_model_exports_as_f32(self):
        names, f = self.export(model=copy.deepcopy(self.net).half())
        self.assertEqual(names, ODCONV_NAMES)
        self.assertEqual({e["dtype"] for e in f.header.values()}, {"F32"})


class UnsupportedTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="odconv-export-test-")
        self.addCleanup(self.tmp.cleanup)
        self.path = pathlib.Path(self.tmp.name) / "model.safetensors"

    def assert_unsupported(self, model, *problems):
        """Export fails, naming every (module, reason) in ``problems``, and writes nothing."""
        with self.assertRaises(UnsupportedModuleError) as raised:
            export_odconv(model, str(self.path))
        self.assertIsInstance(raised.exception, ValueError)
        message = str(raised.exception)
        for name, reason in problems:
            self.assertIn(f"{name}: {reason}", message)
        self.assertEqual([name for name, _ in raised.exception.problems], [name for name, _ in problems])
        self.assertFalse(self.path.exists(), "nothing may be written")
        self.assertEqual(os.listdir(self.tmp.name), [])
        return message

    def test_leaky_relu(self):
        model = nn.Sequential(SeedODConv2d(16, 16, 3), nn.Conv2d(16, 16, 1), nn.Sequential(nn.Identity(), nn.Identity()),
                              nn.Identity(), SeedODConv2d(16, 16, 3, act=nn.LeakyReLU()))
        message = self.assert_unsupported(
            model, ("4", "activation LeakyReLU is not supported (silu, relu, identity)"))
        self.assertIn("cannot export 1 ODConv module", message)
        # The supported layer alone still exports.
        self.assertEqual(export_odconv(model, str(self.path), names=["0"]), ["0"])

    def test_leaky_relu_named_like_yolo(self):
        class Yolo(nn.Module):
            def __init__(self):
                super().__init__()
                self.model = nn.Sequential(*[SeedODConv2d(16, 16, 3) for _ in range(4)],
                                           SeedODConv2d(16, 16, 3, act=nn.LeakyReLU(0.1)))
        self.assert_unsupported(Yolo(), ("model.4", "activation LeakyReLU is not supported (silu, relu, identity)"))

    def test_every_offending_module_is_listed(self):
        non_square = SeedODConv2d(16, 16, 3)
        non_square.kernel_size = (3, 5)
        wrong_shape = SeedODConv2d(16, 16, 3)
        wrong_shape.kernel_num = 2
        missing_head = OsvaiODConv2d(16, 16, 3, kernel_num=2)
        del missing_head.attention.kernel_fc
        tuple_stride = OsvaiODConv2d(16, 16, 3, stride=(2, 1))
        model = nn.Sequential(SeedODConv2d(16, 16, 3), non_square, wrong_shape, missing_head, tuple_stride)
        self.assert_unsupported(
            model,
            ("1", "kernel_size (3, 5) is not square"),
            ("2", "weight shape [1, 16, 16, 3, 3] disagrees with the attributes (expected [2, 16, 16, 3, 3]"),
            ("3", "attention is missing head kernel_fc"),
            ("4", "stride (2, 1) is not square"))

    def test_other_reasons(self):
        no_running_stats = SeedODConv2d(16, 16, 3)
        no_running_stats.bn = nn.BatchNorm2d(16, track_running_stats=False)
        act_without_bn = OsvaiODConv2d(16, 16, 3)
        act_without_bn.act = nn.SiLU()
        extra_tensor = OsvaiODConv2d(16, 16, 3)
        extra_tensor.register_buffer("scale", torch.ones(1))
        trunk_act = SeedODConv2d(16, 16, 3)
        trunk_act.attention.fc.act = nn.SiLU()
        string_padding = OsvaiODConv2d(16, 16, 3, padding="same")
        wide_padding = OsvaiODConv2d(16, 16, 3, padding=20000)
        self.assert_unsupported(
            nn.Sequential(no_running_stats, act_without_bn, extra_tensor, trunk_act, string_padding, wide_padding),
            ("0", "bn needs affine parameters and running statistics"),
            ("1", "activation SiLU without a trailing bn is not supported"),
            ("2", "state_dict does not match the format (unexpected scale)"),
            ("3", "attention.fc.act is SiLU, expected ReLU"),
            ("4", "padding 'same' is not an integer"),
            ("5", "padding = 20000 is wider than the dilated kernel (3)"))

    def test_a_changed_forward_is_refused(self):
        """A module is recognised by its parts; one whose forward computes something else is refused, not
        exported to run differently in odconv (each of these exported silently before)."""
        class Residual(SeedODConv2d):
            def forward(self, x):
                return x + super().forward(x)

        class ActivationFirst(SeedODConv2d):
            def forward(self, x):
                return self.bn(self.act(self._forward_impl(x)))

        max_pool = OsvaiODConv2d(16, 16, 3, kernel_num=2)
        max_pool.attention.avgpool = nn.AdaptiveMaxPool2d(1)
        skipped_head = OsvaiODConv2d(16, 16, 3, kernel_num=2)
        skipped_head.attention.func_spatial = skipped_head.attention.skip
        model = nn.Sequential(SeedODConv2d(16, 16, 3), Residual(16, 16, 3), ActivationFirst(16, 16, 3), max_pool,
                              skipped_head)
        randomize(model, torch.Generator().manual_seed(5))
        reason = "its forward computes something else than the ODConv its parts describe"
        self.assert_unsupported(model, ("1", reason), ("2", reason), ("3", reason), ("4", reason))

    def test_numbers_that_are_not_numbers_are_refused_by_name(self):
        no_temperature = SeedODConv2d(16, 16, 3)
        no_temperature.attention.temperature = None
        two_temperatures = OsvaiODConv2d(16, 16, 3)
        two_temperatures.attention.temperature = torch.ones(2)
        text_eps = SeedODConv2d(16, 16, 3)
        text_eps.bn.eps = "x"

        class OwnNorm(nn.BatchNorm2d):
            def forward(self, x):
                return super().forward(x) * 2

        own_norm = SeedODConv2d(16, 16, 3)
        own_norm.bn = OwnNorm(16)
        self.assert_unsupported(
            nn.Sequential(no_temperature, two_temperatures, text_eps, own_norm),
            ("0", "attention temperature None is not a number"),
            ("1", "attention temperature tensor([1., 1.]) is not a number"),
            ("2", "bn.eps 'x' is not a number"),
            ("3", "bn is OwnNorm, not a BatchNorm2d"))



# ------------------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------------------

TRAIN_SCRIPT = textwrap.dedent("""\
    # A training script: its classes live in __main__ when it runs.
    import sys
    import torch
    import torch.nn as nn
    from odconv_reference.modules import ODConv2d

    class Net(nn.Module):
        def __init__(self, act=True):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), ODConv2d(16, 16, 3, kernel_num=2),
                                          nn.MaxPool2d(2), ODConv2d(16, 32, 1, act=act))

        def forward(self, x):
            return self.features(x)

    if __name__ == "__main__":
        torch.manual_seed(0)
        torch.save(Net(act=nn.LeakyReLU() if sys.argv[2:] == ["leaky"] else True), sys.argv[1])
""")


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="odconv-export-test-")
        self.addCleanup(self.tmp.cleanup)
        self.dir = pathlib.Path(self.tmp.name)

    def cli(self, *args):
        return subprocess.run([sys.executable, str(EXPORTER), *map(str, args)], capture_output=True, text=True,
                              timeout=300, cwd=self.dir)

    def save_from_script(self, *extra):
        (self.dir / "train_script.py").write_text(TRAIN_SCRIPT)
        env = dict(os.environ, PYTHONPATH=str(TOOLS))
        subprocess.run([sys.executable, "train_script.py", "net.pt", *extra], cwd=self.dir, env=env, check=True,
                       timeout=300)
        return self.dir / "net.pt"

    def test_model_saved_from_a_script(self):
        model = self.save_from_script()
        out = self.dir / "net.safetensors"
        result = self.cli("--model", model, "--output", out, "--path", self.dir, TOOLS, "--import", "train_script",
                          "--dtype", "bf16")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(), [
            "features.1: 16->16 k=3 kernel_num=2 yolo (bn, silu)",
            "features.3: 16->32 k=1 kernel_num=1 yolo (bn, silu)"])
        f = SafeTensorsFile(out)
        self.assertEqual([layer["name"] for layer in f.odconv()["layers"]], ["features.1", "features.3"])
        self.assertEqual({e["dtype"] for e in f.header.values()}, {"BF16"})
        self.assertIn("features.1.attention.kernel_fc.weight", f.header)

    def test_model_of_both_families_matches_the_library_export(self):
        model = self.dir / "net.pt"
        net = build_net()
        torch.save(net, model)
        out = self.dir / "cli.safetensors"
        result = self.cli("--model", model, "--output", out, "--path", HERE, TOOLS,
                          "--names", "backbone.2,head.1, backbone.0")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(), [
            "backbone.0: 16->32 k=3 kernel_num=4 yolo (bn, silu)",
            "backbone.2: 32->32 k=3 kernel_num=1 osvai (no bn)",
            "head.1: 40->48 k=3 kernel_num=1 yolo (bn, silu)"])
        library = self.dir / "library.safetensors"
        export_odconv(net, str(library), names=["backbone.0", "backbone.2", "head.1"])
        self.assertEqual(out.read_bytes(), library.read_bytes())

    def test_unsupported_module_exits_1_with_one_line(self):
        model = self.save_from_script("leaky")
        out = self.dir / "net.safetensors"
        result = self.cli("--model", model, "--output", out, "--path", self.dir, TOOLS, "--import", "train_script")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertIn("features.3: activation LeakyReLU is not supported (silu, relu, identity)", result.stderr)
        self.assertFalse(out.exists())

    def test_classes_not_importable(self):
        model = self.save_from_script()
        result = self.cli("--model", model, "--output", self.dir / "x.safetensors")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertIn("--path", result.stderr)

    def test_unknown_name(self):
        model = self.save_from_script()
        result = self.cli("--model", model, "--output", self.dir / "x.safetensors", "--path", self.dir, TOOLS,
                          "--import", "train_script", "--names", "features.0")
        self.assertEqual(result.returncode, 1)
        self.assertIn("unknown ODConv module name 'features.0'; available: features.1, features.3", result.stderr)


if __name__ == "__main__":
    unittest.main()
