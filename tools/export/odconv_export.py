#!/usr/bin/python3
"""Export the ODConv layers of a PyTorch model to an odconv model file (safetensors).

The file is what ``java -jar target/odconv.jar run`` and ``ODConvModel.load`` read (docs/file-format.md, "Model file
format"): every tensor of each ODConv layer's ``state_dict()`` under the layer's ``named_modules()`` name
(``num_batches_tracked`` left out), and in ``__metadata__["odconv"]`` a JSON string listing the layers, in
model order, with their configuration.

ODConv layers are found by structure, not by class name, so both families users have are recognized:

- the YOLO-style seed module ``ODConv2d(in_planes, out_planes, k, s, p, g, act, d, reduction, kernel_num)``:
  attention trunk ``attention.fc`` is a YOLOv5 ``Conv`` (``conv``, ``bn``, ``act``), then the layer's own
  ``bn`` and ``act`` (SiLU, ReLU or Identity);
- the official OSVAI module (github OSVAI/ODConv, ``modules/odconv.py``): attention trunk
  ``attention.fc`` (Conv2d), ``attention.bn``, ``attention.relu``, and no trailing BatchNorm/activation.

Library use::

    from odconv_export import export_odconv
    export_odconv(model, "model.safetensors")                      # every ODConv layer, F32
    export_odconv(model, "model.safetensors", names=["model.3"], dtype="bf16")

Command line (the model saved with ``torch.save(module)``)::

    python3 tools/export/odconv_export.py --model model.pt --output model.safetensors \
        [--names a,b] [--dtype f32|f16|bf16] [--path DIR ...] [--import MODULE ...]

An ``--output`` ending in ``.onnx`` exports the whole model instead, to ONNX, every ODConv layer as one
``org.odconv::ODConv2d`` node (odconv_onnx.py, ``export_onnx``); it needs the input shape to trace with::

    python3 tools/export/odconv_export.py --model model.pt --output model.onnx --input-shape 1,3,640,640 \
        [--opset 17] [--output-names a,b] [--channels-first] [--path DIR ...] [--import MODULE ...]

Only PyTorch is needed (and NumPy, which PyTorch uses to hand over the bytes).
"""

import argparse
import contextlib
import functools
import importlib
import inspect
import json
import math
import operator
import os
import struct
import sys
import tempfile
import types
import warnings
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["UnsupportedModuleError", "ODConvLayer", "DTYPES", "export_odconv", "find_odconv_layers",
           "is_odconv_module", "write_model", "write_safetensors", "save_layer_io", "load_model", "main"]

FORMAT_VERSION = 1
METADATA_KEY = "odconv"

#: ``dtype`` option -> (safetensors dtype name, torch dtype the tensors are stored as).
DTYPES: Dict[str, Tuple[str, torch.dtype]] = {
    "f32": ("F32", torch.float32),
    "f16": ("F16", torch.float16),
    "bf16": ("BF16", torch.bfloat16),
}

#: Activations the format knows, by exact module type (a subclass may compute something else).
ACTIVATIONS: Dict[type, str] = {nn.SiLU: "silu", nn.ReLU: "relu", nn.Identity: "identity"}

#: The attention width the seed and OSVAI modules use by default: max(int(in_planes * 0.0625), 16).
DEFAULT_REDUCTION = 0.0625
DEFAULT_MIN_CHANNEL = 16

#: Name given to the model itself when the model passed in is a single ODConv layer (its
#: ``named_modules()`` name is the empty string, which cannot prefix tensor names).
ROOT_NAME = "odconv"

#: The BatchNorm state_dict entries the format stores (``num_batches_tracked`` is left out).
_BN_TENSORS = ("weight", "bias", "running_mean", "running_var")
_SKIPPED_SUFFIX = "num_batches_tracked"


class UnsupportedModuleError(ValueError):
    """ODConv modules the file format cannot represent.

    ``problems`` holds one ``(module name, reason)`` pair per offending module; the message lists them all
    on one line.
    """

    def __init__(self, problems: Sequence[Tuple[str, str]]):
        self.problems = list(problems)
        count = len(self.problems)
        listing = "; ".join(f"{name}: {reason}" for name, reason in self.problems)
        super().__init__(f"cannot export {count} ODConv module{'s' if count != 1 else ''}: {listing}")


class _Unsupported(Exception):
    """Raised while reading one module; becomes one entry of UnsupportedModuleError."""


@dataclass
class ODConvLayer:
    """One exportable ODConv layer: its name, family, metadata entry and tensors (state_dict order)."""

    name: str
    family: str                            # "yolo" (seed, attention.fc is a Conv) or "osvai"
    config: Dict[str, object]              # the layer's entry of the "odconv" metadata
    tensors: List[Tuple[str, torch.Tensor]]  # (full tensor name, tensor)

    def describe(self) -> str:
        """One line for people: name, in->out, k, kernel_num and variant."""
        c = self.config
        tail = f"bn, {c['act']}" if c["bn"] else "no bn"
        return (f"{self.name}: {c['in_planes']}->{c['out_planes']} k={c['kernel_size']} "
                f"kernel_num={c['kernel_num']} {self.family} ({tail})")


# ------------------------------------------------------------------------------------------------------
# Finding ODConv modules
# ------------------------------------------------------------------------------------------------------

def is_odconv_module(module: nn.Module) -> bool:
    """True for a module shaped like an ODConv layer.

    That is: a 5-D ``weight`` parameter (the kernel bank) and an ``attention`` child that has a
    ``channel_fc`` head and a ``temperature``. Whether it can be exported (its integer attributes, heads,
    activation, ...) is checked afterwards, so that a near miss is reported instead of skipped.
    """
    weight = module._parameters.get("weight")
    attention = module._modules.get("attention")
    return (weight is not None and weight.dim() == 5 and attention is not None
            and isinstance(getattr(attention, "channel_fc", None), nn.Module)
            and hasattr(attention, "temperature"))


def _odconv_modules(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The ODConv modules of ``model`` with their names, in ``named_modules()`` order."""
    return [(name or ROOT_NAME, module) for name, module in model.named_modules() if is_odconv_module(module)]


# ------------------------------------------------------------------------------------------------------
# Reading one module's configuration
# ------------------------------------------------------------------------------------------------------

#: The integer attributes an ODConv module holds, with their smallest valid values.
_SIZE_ATTRS = {"in_planes": 1, "out_planes": 1, "kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1,
               "groups": 1, "kernel_num": 1}


def _int_attr(module: nn.Module, attr: str) -> int:
    """An integer attribute at least _SIZE_ATTRS[attr]; a square pair (a, a) counts as a."""
    if not hasattr(module, attr):
        raise _Unsupported(f"has no attribute {attr}")
    value = getattr(module, attr)
    if isinstance(value, (tuple, list)) and len(value) in (1, 2):
        if len(set(value)) != 1:
            raise _Unsupported(f"{attr} {tuple(value)} is not square")
        value = value[0]
    try:
        if isinstance(value, bool):
            raise TypeError
        value = operator.index(value)
    except TypeError:
        raise _Unsupported(f"{attr} {value!r} is not an integer") from None
    if value < _SIZE_ATTRS[attr]:
        raise _Unsupported(f"{attr} = {value} is below {_SIZE_ATTRS[attr]}")
    return value


def _child(module: nn.Module, path: str, kind: type) -> nn.Module:
    """The submodule at dotted ``path``, which must be a ``kind``."""
    child = functools.reduce(lambda m, part: getattr(m, part, None), path.split("."), module)
    if child is None:
        raise _Unsupported(f"has no {path}")
    if not isinstance(child, kind):
        raise _Unsupported(f"{path} is a {type(child).__name__}, expected {kind.__name__}")
    return child


def _check_conv1x1(conv: nn.Conv2d, path: str, in_channels: int, out_channels: Optional[int], bias: bool) -> None:
    """A 1x1, stride-1, ungrouped Conv2d with the given channel counts (out_channels None: any)."""
    if conv.in_channels != in_channels or (out_channels is not None and conv.out_channels != out_channels):
        expected = f"{in_channels}->{out_channels if out_channels is not None else '*'}"
        raise _Unsupported(f"{path} maps {conv.in_channels}->{conv.out_channels} channels, expected {expected}")
    plain = (tuple(conv.kernel_size) == (1, 1) and tuple(conv.stride) == (1, 1) and conv.groups == 1
             and tuple(conv.dilation) == (1, 1) and conv.padding in ((0, 0), 0, "valid"))
    if not plain:
        raise _Unsupported(f"{path} is not a plain 1x1 convolution")
    if (conv.bias is not None) != bias:
        raise _Unsupported(f"{path} {'has no' if bias else 'has a'} bias")


def _number(value, what: str) -> float:
    """A Python or 0-d tensor number as a float; anything else (None, a string, a longer tensor) is refused."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dim() == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Unsupported(f"{what} {value!r} is not a number")
    return float(value)


def _check_batch_norm(bn: nn.BatchNorm2d, path: str, channels: int) -> float:
    """An affine BatchNorm2d with running statistics over ``channels``; returns its eps."""
    if type(bn) is not nn.BatchNorm2d:  # a subclass may compute something else
        raise _Unsupported(f"{path} is {type(bn).__name__}, not a BatchNorm2d")
    if bn.num_features != channels:
        raise _Unsupported(f"{path} has {bn.num_features} features, expected {channels}")
    if not bn.affine or bn.running_mean is None or bn.running_var is None:
        raise _Unsupported(f"{path} needs affine parameters and running statistics")
    return _number(bn.eps, f"{path}.eps")


def _attention_trunk(attention: nn.Module, in_planes: int) -> Tuple[str, List[str], int, float]:
    """(family, trunk tensor names, attention width, trunk BatchNorm eps) of an Attention module.

    The trunk is avgpool -> 1x1 conv (no bias) -> BatchNorm -> ReLU, held as ``fc`` (Conv2d), ``bn``,
    ``relu`` in the OSVAI module and as ``fc`` = YOLOv5 Conv (``conv``, ``bn``, ``act``) in the seed.
    """
    fc = getattr(attention, "fc", None)
    if isinstance(fc, nn.Conv2d):
        family, conv_path, bn_path, act_path = "osvai", "fc", "bn", "relu"
    elif isinstance(getattr(fc, "conv", None), nn.Conv2d):
        family, conv_path, bn_path, act_path = "yolo", "fc.conv", "fc.bn", "fc.act"
    else:
        raise _Unsupported("attention.fc is neither a Conv2d (OSVAI) nor a YOLOv5 Conv with a conv child")
    conv = _child(attention, conv_path, nn.Conv2d)
    _check_conv1x1(conv, f"attention.{conv_path}", in_planes, None, bias=False)
    eps = _check_batch_norm(_child(attention, bn_path, nn.BatchNorm2d), f"attention.{bn_path}", conv.out_channels)
    act = _child(attention, act_path, nn.Module)
    if type(act) is not nn.ReLU:
        raise _Unsupported(f"attention.{act_path} is {type(act).__name__}, expected ReLU")
    names = [f"attention.{conv_path}.weight"] + [f"attention.{bn_path}.{t}" for t in _BN_TENSORS]
    return family, names, conv.out_channels, eps


def _reduction_and_min_channel(module: nn.Module, in_planes: int, width: int) -> Tuple[float, int]:
    """A (reduction, min_channel) pair with max(int(in_planes * reduction), min_channel) == width.

    Preference: the values the module or its Attention store (missing ones defaulted), then the modules'
    defaults 0.0625 / 16, then (width + 0.5) / in_planes with min_channel 1, which gives width exactly.
    """
    def stored(attr):
        for owner in (module, module.attention):
            value = getattr(owner, attr, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
        return None

    reduction, min_channel = stored("reduction"), stored("min_channel")
    candidates = []
    if reduction is not None or min_channel is not None:
        candidates.append((reduction if reduction is not None else DEFAULT_REDUCTION,
                           min_channel if min_channel is not None else DEFAULT_MIN_CHANNEL))
    candidates += [(DEFAULT_REDUCTION, DEFAULT_MIN_CHANNEL), ((width + 0.5) / in_planes, 1)]
    for reduction, min_channel in candidates:
        reduction, min_channel = float(reduction), int(min_channel)
        if reduction > 0 and min_channel >= 1 and max(int(in_planes * reduction), min_channel) == width:
            return reduction, min_channel
    raise AssertionError(f"no reduction/min_channel reproduces attention width {width}")  # unreachable


def _heads(attention: nn.Module, size: Dict[str, int], width: int) -> List[str]:
    """Tensor names of the attention heads; each must be present exactly when the format expects it."""
    in_planes, out_planes, k, kernel_num = (size[a] for a in ("in_planes", "out_planes", "kernel_size", "kernel_num"))
    depthwise = in_planes == size["groups"] == out_planes
    heads = [("channel_fc", True, in_planes, "always"),
             ("filter_fc", not depthwise, out_planes, "unless depthwise (in_planes == groups == out_planes)"),
             ("spatial_fc", k > 1, k * k, "unless kernel_size == 1"),
             ("kernel_fc", kernel_num > 1, kernel_num, "unless kernel_num == 1")]
    names = []
    for head, needed, channels, rule in heads:
        present = isinstance(getattr(attention, head, None), nn.Module)
        if present != needed:
            raise _Unsupported(f"attention {'is missing' if needed else 'has an unexpected'} head {head} "
                               f"(the format has it {rule})")
        if needed:
            _check_conv1x1(_child(attention, head, nn.Conv2d), f"attention.{head}", width, channels, bias=True)
            names += [f"attention.{head}.weight", f"attention.{head}.bias"]
    return names


def _trailing(module: nn.Module, out_planes: int) -> Tuple[bool, float, str, List[str]]:
    """(has bn, bn eps, activation name, tensor names) of what follows the convolution.

    The seed has ``bn`` (BatchNorm2d) and ``act``; the OSVAI module has neither (an Identity ``act`` is
    accepted too). The eps of a missing BatchNorm is written as 1e-5 and unused.
    """
    act = module._modules.get("act")
    if not isinstance(module._modules.get("bn"), nn.Module):
        if act is not None and type(act) is not nn.Identity:
            raise _Unsupported(f"activation {type(act).__name__} without a trailing bn is not supported")
        return False, 1e-5, "identity", []
    eps = _check_batch_norm(_child(module, "bn", nn.BatchNorm2d), "bn", out_planes)
    if act is None:
        raise _Unsupported("has bn but no act")
    if type(act) not in ACTIVATIONS:
        raise _Unsupported(f"activation {type(act).__name__} is not supported ({', '.join(ACTIVATIONS.values())})")
    return True, eps, ACTIVATIONS[type(act)], [f"bn.{t}" for t in _BN_TENSORS]


def _read_layer(name: str, module: nn.Module) -> ODConvLayer:
    """The metadata entry and tensors of one ODConv module; raises _Unsupported with the reason."""
    size = {attr: _int_attr(module, attr) for attr in _SIZE_ATTRS}
    in_planes, out_planes, k, groups, kernel_num = (size[a] for a in
                                                     ("in_planes", "out_planes", "kernel_size", "groups", "kernel_num"))
    if in_planes % groups or out_planes % groups:
        raise _Unsupported(f"groups = {groups} does not divide in_planes = {in_planes} and out_planes = {out_planes}")
    expected_shape = [kernel_num, out_planes, in_planes // groups, k, k]
    if list(module.weight.shape) != expected_shape:
        raise _Unsupported(f"weight shape {list(module.weight.shape)} disagrees with the attributes (expected "
                           f"{expected_shape} = [kernel_num, out_planes, in_planes/groups, k, k])")

    family, trunk, width, attention_bn_eps = _attention_trunk(module.attention, in_planes)
    temperature = _number(module.attention.temperature, "attention temperature")
    if not (math.isfinite(temperature) and temperature > 0):
        raise _Unsupported(f"attention temperature {temperature} is not a positive number")
    has_bn, bn_eps, act, trailing = _trailing(module, out_planes)

    names = ["weight"] + trunk + _heads(module.attention, size, width) + trailing
    state = {key: value for key, value in module.state_dict().items() if not key.endswith(_SKIPPED_SUFFIX)}
    unexpected, missing = sorted(set(state) - set(names)), sorted(set(names) - set(state))
    if unexpected or missing:
        raise _Unsupported("state_dict does not match the format ("
                           + ", ".join([f"unexpected {n}" for n in unexpected] + [f"missing {n}" for n in missing])
                           + ")")

    extent = size["dilation"] * (size["kernel_size"] - 1) + 1
    if size["padding"] > extent:  # odconv refuses wider padding: it adds outputs that see only zeros
        raise _Unsupported(f"padding = {size['padding']} is wider than the dilated kernel ({extent})")

    reduction, min_channel = _reduction_and_min_channel(module, in_planes, width)
    config = {"name": name, **{a: size[a] for a in ("in_planes", "out_planes", "kernel_size", "stride",
                                                     "padding", "dilation", "groups")},
              "reduction": reduction, "kernel_num": kernel_num, "min_channel": min_channel,
              "temperature": temperature, "act": act, "bn": has_bn, "bn_eps": bn_eps,
              "attention_bn_eps": attention_bn_eps}
    _check_forward(module, config, trunk, state)
    return ODConvLayer(name, family, config, [(f"{name}.{key}", value) for key, value in state.items()])


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """The whole model in eval mode; afterwards every module's own train/eval flag as it was.

    torch.onnx.export switches to eval by itself but then puts the root's flag on every submodule, and runs made
    before it (the check of each module's forward, the probe that counts a model's outputs) must not update
    BatchNorm running statistics.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _format_forward(config: dict, trunk: List[str], tensors: Dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """What a layer of the format computes on ``x`` (NCHW, float32) from its configuration and its tensors (named
    as in the layer; ``trunk``: the attention trunk's conv weight, then its BatchNorm's tensors): the ODConv
    mathematics odconv runs, written out here once so that every module's own forward is checked against it."""
    t = {name: value.detach().float().cpu() for name, value in tensors.items()}
    in_planes, out_planes, k = config["in_planes"], config["out_planes"], config["kernel_size"]
    groups, kernel_num, temperature = config["groups"], config["kernel_num"], config["temperature"]
    batch = x.shape[0]

    def head(name):
        return F.conv2d(a, t[f"attention.{name}.weight"], t[f"attention.{name}.bias"])

    a = F.conv2d(x.mean((2, 3), keepdim=True), t[trunk[0]])
    a = F.relu(F.batch_norm(a, t[trunk[3]], t[trunk[4]], t[trunk[1]], t[trunk[2]], False, 0.0,
                            config["attention_bn_eps"]))
    channel = torch.sigmoid(head("channel_fc") / temperature)
    filters = 1.0 if in_planes == groups == out_planes else torch.sigmoid(head("filter_fc") / temperature)
    spatial = 1.0 if k == 1 else torch.sigmoid(head("spatial_fc").view(batch, 1, 1, 1, k, k) / temperature)
    kernel = 1.0 if kernel_num == 1 else torch.softmax(head("kernel_fc").view(batch, -1, 1, 1, 1, 1) / temperature, 1)
    bank = t["weight"]  # [kernel_num, out, in / groups, k, k]
    weight = (spatial * kernel * bank.unsqueeze(0)).sum(1).expand(batch, *bank.shape[1:])
    y = torch.cat([F.conv2d(x[n:n + 1] * channel[n:n + 1], weight[n], None, config["stride"], config["padding"],
                            config["dilation"], groups) for n in range(batch)]) * filters
    if config["bn"]:
        y = F.batch_norm(y, t["bn.running_mean"], t["bn.running_var"], t["bn.weight"], t["bn.bias"], False, 0.0,
                         config["bn_eps"])
    return {"silu": F.silu, "relu": F.relu, "identity": lambda v: v}[config["act"]](y)


def _check_forward(module: nn.Module, config: dict, trunk: List[str], state: Dict[str, torch.Tensor]) -> None:
    """Refuses a module whose forward, in eval mode, computes something else than its configuration and tensors
    describe: a module is recognised by its parts, and a changed forward (a subclass's, a residual added, a max
    pool for the average) would otherwise export without a word and run differently in odconv.

    The check runs both on a seeded input, CPU and float32 for the format; the bound is far above float32's
    rounding between two summation orders and far below what a changed forward does. Modules whose parameters
    are not float32 or float64 are not checked (PyTorch cannot run every half-precision operator on a CPU)."""
    dtype = module.weight.dtype
    if dtype not in (torch.float32, torch.float64):
        return
    extent = config["dilation"] * (config["kernel_size"] - 1) + 1
    size = max(extent, 2 * config["stride"], 5)
    x = torch.randn(2, config["in_planes"], size, size + 1, generator=torch.Generator().manual_seed(20261130))
    with torch.no_grad(), _eval_mode(module):
        try:
            expected = module(x.to(device=module.weight.device, dtype=dtype)).float().cpu()
        except Exception as e:  # a forward this check cannot run is not refused for that: it is said
            warnings.warn(f"{config['name']}: not checked against the format's ODConv: its forward failed on a "
                          f"test input of shape {list(x.shape)} ({type(e).__name__}: {e})", stacklevel=2)
            return
        got = _format_forward(config, trunk, state, x)
    if expected.shape != got.shape:
        raise _Unsupported(f"its forward gives shape {list(expected.shape)} where the format gives {list(got.shape)}")
    difference = (expected - got).abs().max().item()
    bound = 1e-3 * max(1.0, expected.abs().max().item())
    if not difference <= bound:
        raise _Unsupported(f"its forward computes something else than the ODConv its parts describe (on a test "
                           f"input, max |difference| {difference:.3g} > {bound:.3g}): a module with a changed "
                           f"forward cannot be exported")


def find_odconv_layers(model: nn.Module, names: Optional[Iterable[str]] = None) -> List[ODConvLayer]:
    """The exportable ODConv layers of ``model`` in ``named_modules()`` order.

    ``names`` restricts them to those module names (a single string counts as one name; ValueError, listing
    the available names, for an unknown one or none); only the selected modules are checked. A model that is itself one ODConv layer is named
    ``"odconv"``. Raises UnsupportedModuleError listing every selected module the format cannot represent,
    and ValueError when there is nothing to export. Reads parameters and buffers only: the model's
    train/eval mode is left as it is (BatchNorms are exported with their running statistics).
    """
    found = _odconv_modules(model)
    if not found:
        raise ValueError("no ODConv modules found (a module with a 5-D weight parameter and an attention "
                         "child holding channel_fc and temperature)")
    if names is not None:
        wanted = list(dict.fromkeys([names] if isinstance(names, str) else names))
        available = [name for name, _ in found]
        unknown = [name for name in wanted if name not in available]
        if not wanted:
            raise ValueError(f"no layer names given; available: {', '.join(available)}")
        if unknown:
            raise ValueError(f"unknown ODConv module name{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(map(repr, unknown))}; available: {', '.join(available)}")
        found = [(name, module) for name, module in found if name in wanted]
    layers, problems = [], []
    for name, module in found:
        try:
            layers.append(_read_layer(name, module))
        except _Unsupported as e:
            problems.append((name, str(e)))
    if problems:
        raise UnsupportedModuleError(problems)
    return layers


# ------------------------------------------------------------------------------------------------------
# Writing the file
# ------------------------------------------------------------------------------------------------------

def _dtype(dtype: str) -> Tuple[str, torch.dtype]:
    key = str(dtype).lower()
    if key not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r} (expected {', '.join(DTYPES)})")
    return DTYPES[key]


def _tensor_bytes(tensor: torch.Tensor, dtype: torch.dtype) -> bytes:
    """The tensor converted to ``dtype``, as contiguous little-endian bytes."""
    t = tensor.detach().to(device="cpu", dtype=dtype).contiguous()
    if dtype == torch.bfloat16:  # NumPy has no bfloat16: hand over the bit patterns
        t = t.view(torch.int16)
    array = t.numpy()
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def write_safetensors(path: str, tensors: Sequence[Tuple[str, torch.Tensor]],
                      metadata: Optional[Dict[str, str]] = None, dtype: str = "f32") -> None:
    """Writes ``tensors`` (name, tensor) in order, each converted to ``dtype`` ("f32", "f16" or "bf16"), as a
    safetensors file, with ``metadata`` (str -> str) as its ``__metadata__`` when given.

    The file is written next to ``path`` under a temporary name and renamed into place, so a failure
    leaves no partial file. The repository's other Python tools write their safetensors files with this too.
    """
    type_name, torch_dtype = _dtype(dtype)
    header, blobs, offset = ({"__metadata__": metadata} if metadata else {}), [], 0
    for name, tensor in tensors:
        data = _tensor_bytes(tensor, torch_dtype)
        header[name] = {"dtype": type_name, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".odconv-export-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(head)))
            f.write(head)
            for data in blobs:
                f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_model(layers: Sequence[ODConvLayer], path: str, dtype: str = "f32") -> None:
    """Writes ``layers`` (from find_odconv_layers) to the safetensors file ``path``, atomically."""
    metadata = json.dumps({"format_version": FORMAT_VERSION, "layers": [layer.config for layer in layers]})
    tensors = [named for layer in layers for named in layer.tensors]
    write_safetensors(path, tensors, {METADATA_KEY: metadata}, dtype)


@torch.no_grad()
def save_layer_io(model: nn.Module, x: torch.Tensor, name: str, input_path: str,
                  output_path: Optional[str] = None) -> None:
    """Runs ``model(x)`` and saves what reaches the module ``name`` as the F32 NCHW tensor ``input`` (the
    file ``java -jar odconv.jar run --layer name --input ...`` reads), and optionally what it returns as
    ``output``, to compare with the Java result. The model's mode is left as it is: call ``model.eval()``
    first for inference numbers.
    """
    module = dict(model.named_modules()).get(name)
    if module is None:
        raise ValueError(f"no module {name!r} in the model")
    seen = {}
    hook = module.register_forward_hook(lambda m, inputs, output: seen.update(input=inputs[0], output=output))
    try:
        model(x)
    finally:
        hook.remove()
    if "input" not in seen:
        raise ValueError(f"module {name!r} did not run in model(x)")
    write_safetensors(input_path, [("input", seen["input"])])
    if output_path is not None:
        write_safetensors(output_path, [("output", seen["output"])])


def export_odconv(model: nn.Module, path: str, names: Optional[Iterable[str]] = None,
                  dtype: str = "f32") -> List[str]:
    """Exports the ODConv layers of ``model`` to the odconv safetensors file ``path``.

    ``names``: module names to export (default: every ODConv module), written in model order.
    ``dtype``: "f32" (default), "f16" or "bf16": the type every tensor is stored as.
    Returns the exported layer names. Raises UnsupportedModuleError (a ValueError) naming every module the
    format cannot represent, with the reason, and ValueError for unknown names or dtype; nothing is
    written then. The model's mode and parameters are not changed.
    """
    _dtype(dtype)  # fail before any work
    layers = find_odconv_layers(model, names)
    write_model(layers, path, dtype)
    return [layer.name for layer in layers]


# ------------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _main_falls_back_to(modules: Sequence[types.ModuleType]):
    """While unpickling: names missing from ``__main__`` are looked up in ``modules``.

    A model saved from a training script pickles the script's classes as ``__main__.Name``; importing that
    script as a module (--import) and resolving ``__main__`` names from it lets them load here.
    """
    original = sys.modules["__main__"]

    def lookup(name):
        for module in (original, *modules):
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module '__main__' has no attribute {name!r}, nor has any --import module")

    proxy = types.ModuleType("__main__")
    proxy.__getattr__ = lookup  # PEP 562: consulted for every name the module itself lacks
    sys.modules["__main__"] = proxy
    try:
        yield
    finally:
        sys.modules["__main__"] = original


def load_model(path: str, imports: Sequence[str] = ()) -> nn.Module:
    """Loads a module saved with ``torch.save(module)`` (or a checkpoint dict with "ema"/"model").

    ``imports``: modules to import first; classes the file places in ``__main__`` are looked up in them.
    """
    modules = [importlib.import_module(name) for name in imports]
    kwargs = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = False  # a whole module is pickled classes, not just tensors
    try:
        with _main_falls_back_to(modules):
            obj = torch.load(path, **kwargs)
    except (ImportError, AttributeError) as e:
        raise type(e)(f"cannot unpickle {path}: {e} (use --path DIR / --import MODULE so its classes import)") from e
    if isinstance(obj, dict):  # e.g. a YOLOv5 checkpoint
        obj = next((obj[key] for key in ("ema", "model") if isinstance(obj.get(key), nn.Module)), obj)
    if not isinstance(obj, nn.Module):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not an nn.Module (save it with torch.save(module))")
    return obj


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="odconv_export.py",
        description="Export the ODConv layers of a model saved with torch.save(module) to an odconv "
                    "safetensors model file, or, for an output ending in .onnx, the whole model to ONNX with "
                    "each ODConv layer as one org.odconv::ODConv2d node.")
    parser.add_argument("--model", required=True, help="the .pt file (torch.save of an nn.Module)")
    parser.add_argument("--output", required=True,
                        help="the file to write: .safetensors (the ODConv layers) or .onnx (the whole model)")
    parser.add_argument("--names", help="comma-separated module names to export (default: every ODConv module; "
                                        "not with .onnx)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="tensor type (default: f32; not with .onnx)")
    parser.add_argument("--input-shape", metavar="N,C,H,W",
                        help=".onnx: the shape of the input to trace with (required; the batch stays dynamic)")
    parser.add_argument("--opset", type=int, metavar="N", help=".onnx: the ai.onnx opset version (default: 17)")
    parser.add_argument("--channels-first", action="store_const", const=True,
                        help=".onnx: each odconv node in NCHW, with no Transposes around it (default: NHWC between "
                             "two Transposes, which ONNX Runtime folds into its own reorders)")
    parser.add_argument("--output-names", metavar="A,B",
                        help=".onnx: comma-separated names of the model's outputs (default: output, or "
                             "output0, output1, ...)")
    parser.add_argument("--path", action="extend", nargs="+", default=[], metavar="DIR",
                        help="directories to put on sys.path so the model's classes can be imported")
    parser.add_argument("--import", dest="imports", action="extend", nargs="+", default=[], metavar="MODULE",
                        help="modules to import first; classes saved from a script's __main__ are looked up in them")
    return parser.parse_args(argv)


class _UsageError(Exception):
    """A combination of options that makes no sense: one error line, exit status 2."""


def _comma_list(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _input_shape(text: str) -> Tuple[int, int, int, int]:
    """``N,C,H,W`` as four positive integers."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise _UsageError(f"--input-shape {text!r} is not N,C,H,W (four positive integers, e.g. 1,3,640,640)")
    return shape


def _check_options(args: argparse.Namespace, onnx: bool) -> None:
    """Refuses options that do not apply to the output's kind, and a .onnx output without --input-shape."""
    if onnx:
        given = [option for option, value in (("--names", args.names), ("--dtype", args.dtype)) if value is not None]
        if given:
            raise _UsageError(f"{' and '.join(given)} cannot be used with an .onnx output (the whole model is "
                              f"exported, in F32); leave {'them' if len(given) > 1 else 'it'} out")
        if args.input_shape is None:
            raise _UsageError("an .onnx output needs --input-shape N,C,H,W (the input to trace with, "
                              "e.g. --input-shape 1,3,640,640)")
        _input_shape(args.input_shape)
    else:
        given = [option for option, value in (("--input-shape", args.input_shape), ("--opset", args.opset),
                                              ("--output-names", args.output_names),
                                              ("--channels-first", args.channels_first)) if value is not None]
        if given:
            raise _UsageError(f"{', '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to an .onnx output; "
                              f"--output {args.output} is written as an odconv safetensors file")


def _export_onnx_file(model: nn.Module, args: argparse.Namespace) -> List[ODConvLayer]:
    """The .onnx form of the command line: the whole model, every ODConv layer one org.odconv node."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.append(here)
    from odconv_onnx import export_onnx  # imports this module by name: loaded only when needed

    layers = find_odconv_layers(model)  # refuses unsupported modules before tracing
    model = model.float()  # odconv nodes take float32 (YOLOv5 checkpoints are saved in half precision)
    example = torch.randn(_input_shape(args.input_shape), generator=torch.Generator().manual_seed(0))
    output_names = _comma_list(args.output_names) if args.output_names is not None else None
    exported = export_onnx(model, example, args.output, opset=args.opset if args.opset is not None else 17,
                           output_names=output_names, channels_last=not args.channels_first)
    return [layer for layer in layers if layer.name in exported]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line; prints one line per exported layer, or one error line and returns 1 (2 for options
    that do not fit together)."""
    args = _parse_args(argv)
    onnx = args.output.lower().endswith(".onnx")
    try:
        _check_options(args, onnx)
    except _UsageError as e:
        print(f"odconv_export: error: {e}", file=sys.stderr)
        return 2
    sys.path[:0] = [os.path.abspath(p) for p in args.path]
    try:
        model = load_model(args.model, args.imports)
        if onnx:
            layers = _export_onnx_file(model, args)
        else:
            names = _comma_list(args.names) if args.names is not None else None
            layers = find_odconv_layers(model, names)
            write_model(layers, args.output, args.dtype or "f32")
    except Exception as e:  # one line for any failure: unpickling, unsupported modules, I/O
        message = " ".join(str(e).split()) or type(e).__name__
        print(f"odconv_export: error: {message}", file=sys.stderr)
        return 1
    for layer in layers:
        print(layer.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
