#!/usr/bin/python3
"""Generate the ODConv golden test data (and the demo model) with PyTorch.

Run from the repository root with the interpreter that has PyTorch 1.13 (CPU):

    /usr/bin/python3 tools/golden/make_golden.py

For every case in CASES it writes src/test/resources/golden/<case>/{model,input,expected}.safetensors,
and it writes the demo set to src/main/resources/org/odconv/demo/.  The output is deterministic: each
case seeds torch from BASE_SEED and the case name.  The safetensors files are written by hand (no
`safetensors` package needed).

The ODConv module below is the project's seed (odconv-seed.txt) with its line breaks restored, plus
YOLOv5's `autopad` and `Conv` that the seed imports from `models/common.py`.
"""

import copy
import json
import os
import struct
import sys
import zlib
from dataclasses import dataclass, field
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.autograd  # noqa: F401  (imported by the seed)


# --------------------------------------------------------------------------------------------------
# YOLOv5 models/common.py (the version the seed imports: autopad has no dilation argument)
# --------------------------------------------------------------------------------------------------

def autopad(k, p=None):  # kernel, padding
    # Pad to 'same'
    if p is None:
        p = k // 2 if isinstance(k, int) else [x // 2 for x in k]  # auto-pad
    return p


class Conv(nn.Module):
    # Standard convolution
    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):  # ch_in, ch_out, kernel, stride, padding, groups
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU() if act is True else (act if isinstance(act, nn.Module) else nn.Identity())

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


# --------------------------------------------------------------------------------------------------
# The seed (odconv-seed.txt), line breaks restored, code unchanged
# --------------------------------------------------------------------------------------------------

class Attention(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_size, groups=1, reduction=0.0625, kernel_num=4, min_channel=16):
        super(Attention, self).__init__()
        attention_channel = max(int(in_planes * reduction), min_channel)
        self.kernel_size = kernel_size
        self.kernel_num = kernel_num
        self.temperature = 1.0

        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = Conv(in_planes, attention_channel, act=nn.ReLU(inplace=True))

        self.channel_fc = nn.Conv2d(attention_channel, in_planes, 1, bias=True)
        self.func_channel = self.get_channel_attention

        if in_planes == groups and in_planes == out_planes:  # depth-wise convolution
            self.func_filter = self.skip
        else:
            self.filter_fc = nn.Conv2d(attention_channel, out_planes, 1, bias=True)
            self.func_filter = self.get_filter_attention

        if kernel_size == 1:  # point-wise convolution
            self.func_spatial = self.skip
        else:
            self.spatial_fc = nn.Conv2d(attention_channel, kernel_size * kernel_size, 1, bias=True)
            self.func_spatial = self.get_spatial_attention

        if kernel_num == 1:
            self.func_kernel = self.skip
        else:
            self.kernel_fc = nn.Conv2d(attention_channel, kernel_num, 1, bias=True)
            self.func_kernel = self.get_kernel_attention

        self._initialize_weights()

    def _initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            if isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def update_temperature(self, temperature):
        self.temperature = temperature

    @staticmethod
    def skip(_):
        return 1.0

    def get_channel_attention(self, x):
        channel_attention = torch.sigmoid(self.channel_fc(x).view(x.size(0), -1, 1, 1) / self.temperature)
        return channel_attention

    def get_filter_attention(self, x):
        filter_attention = torch.sigmoid(self.filter_fc(x).view(x.size(0), -1, 1, 1) / self.temperature)
        return filter_attention

    def get_spatial_attention(self, x):
        spatial_attention = self.spatial_fc(x).view(x.size(0), 1, 1, 1, self.kernel_size, self.kernel_size)
        spatial_attention = torch.sigmoid(spatial_attention / self.temperature)
        return spatial_attention

    def get_kernel_attention(self, x):
        kernel_attention = self.kernel_fc(x).view(x.size(0), -1, 1, 1, 1, 1)
        kernel_attention = F.softmax(kernel_attention / self.temperature, dim=1)
        return kernel_attention

    def forward(self, x):
        x = self.avgpool(x)
        x = self.fc(x)
        return self.func_channel(x), self.func_filter(x), self.func_spatial(x), self.func_kernel(x)


class ODConv2d(nn.Module):
    def __init__(self, in_planes, out_planes, k, s=1, p=None, g=1, act=True, d=1,
                 reduction=0.0625, kernel_num=1):
        super(ODConv2d, self).__init__()
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.kernel_size = k
        self.stride = s
        self.padding = autopad(k, p)
        self.dilation = d
        self.groups = g
        self.kernel_num = kernel_num
        self.attention = Attention(in_planes, out_planes, k, groups=g,
                                   reduction=reduction, kernel_num=kernel_num)
        self.weight = nn.Parameter(torch.randn(kernel_num, out_planes, in_planes//g, k, k),
                                   requires_grad=True)
        self._initialize_weights()
        self.bn = nn.BatchNorm2d(out_planes)
        self.act = nn.SiLU() if act is True else (act if isinstance(act, nn.Module) else nn.Identity())

        if self.kernel_size == 1 and self.kernel_num == 1:
            self._forward_impl = self._forward_impl_pw1x
        else:
            self._forward_impl = self._forward_impl_common

    def _initialize_weights(self):
        for i in range(self.kernel_num):
            nn.init.kaiming_normal_(self.weight[i], mode='fan_out', nonlinearity='relu')

    def update_temperature(self, temperature):
        self.attention.update_temperature(temperature)

    def _forward_impl_common(self, x):
        # Multiplying channel attention (or filter attention) to weights and feature maps are equivalent,
        # while we observe that when using the latter method the models will run faster with less gpu memory cost.
        channel_attention, filter_attention, spatial_attention, kernel_attention = self.attention(x)
        batch_size, in_planes, height, width = x.size()
        x = x * channel_attention
        x = x.reshape(1, -1, height, width)
        aggregate_weight = spatial_attention * kernel_attention * self.weight.unsqueeze(dim=0)
        aggregate_weight = torch.sum(aggregate_weight, dim=1).view(
            [-1, self.in_planes // self.groups, self.kernel_size, self.kernel_size])
        output = F.conv2d(x, weight=aggregate_weight, bias=None, stride=self.stride, padding=self.padding,
                          dilation=self.dilation, groups=self.groups * batch_size)
        output = output.view(batch_size, self.out_planes, output.size(-2), output.size(-1))
        output = output * filter_attention
        return output

    def _forward_impl_pw1x(self, x):
        channel_attention, filter_attention, spatial_attention, kernel_attention = self.attention(x)
        x = x * channel_attention
        output = F.conv2d(x, weight=self.weight.squeeze(dim=0), bias=None, stride=self.stride, padding=self.padding,
                          dilation=self.dilation, groups=self.groups)
        output = output * filter_attention
        return output

    def forward(self, x):
        return self.act(self.bn(self._forward_impl(x)))


# --------------------------------------------------------------------------------------------------
# The official OSVAI/ODConv module (github OSVAI/ODConv, modules/odconv.py): the same mathematics with its
# own attention trunk (fc Conv2d, bn, relu) and no trailing BatchNorm/activation
# --------------------------------------------------------------------------------------------------

class OsvaiAttention(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_size, groups=1, reduction=0.0625, kernel_num=4, min_channel=16):
        super(OsvaiAttention, self).__init__()
        attention_channel = max(int(in_planes * reduction), min_channel)
        self.kernel_size = kernel_size
        self.kernel_num = kernel_num
        self.temperature = 1.0

        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(in_planes, attention_channel, 1, bias=False)
        self.bn = nn.BatchNorm2d(attention_channel)
        self.relu = nn.ReLU(inplace=True)

        self.channel_fc = nn.Conv2d(attention_channel, in_planes, 1, bias=True)
        self.func_channel = self.get_channel_attention

        if in_planes == groups and in_planes == out_planes:  # depth-wise convolution
            self.func_filter = self.skip
        else:
            self.filter_fc = nn.Conv2d(attention_channel, out_planes, 1, bias=True)
            self.func_filter = self.get_filter_attention

        if kernel_size == 1:  # point-wise convolution
            self.func_spatial = self.skip
        else:
            self.spatial_fc = nn.Conv2d(attention_channel, kernel_size * kernel_size, 1, bias=True)
            self.func_spatial = self.get_spatial_attention

        if kernel_num == 1:
            self.func_kernel = self.skip
        else:
            self.kernel_fc = nn.Conv2d(attention_channel, kernel_num, 1, bias=True)
            self.func_kernel = self.get_kernel_attention

        self._initialize_weights()

    def _initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            if isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def update_temperature(self, temperature):
        self.temperature = temperature

    @staticmethod
    def skip(_):
        return 1.0

    def get_channel_attention(self, x):
        channel_attention = torch.sigmoid(self.channel_fc(x).view(x.size(0), -1, 1, 1) / self.temperature)
        return channel_attention

    def get_filter_attention(self, x):
        filter_attention = torch.sigmoid(self.filter_fc(x).view(x.size(0), -1, 1, 1) / self.temperature)
        return filter_attention

    def get_spatial_attention(self, x):
        spatial_attention = self.spatial_fc(x).view(x.size(0), 1, 1, 1, self.kernel_size, self.kernel_size)
        spatial_attention = torch.sigmoid(spatial_attention / self.temperature)
        return spatial_attention

    def get_kernel_attention(self, x):
        kernel_attention = self.kernel_fc(x).view(x.size(0), -1, 1, 1, 1, 1)
        kernel_attention = F.softmax(kernel_attention / self.temperature, dim=1)
        return kernel_attention

    def forward(self, x):
        x = self.avgpool(x)
        x = self.fc(x)
        x = self.bn(x)
        x = self.relu(x)
        return self.func_channel(x), self.func_filter(x), self.func_spatial(x), self.func_kernel(x)


class OsvaiODConv2d(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 reduction=0.0625, kernel_num=4):
        super(OsvaiODConv2d, self).__init__()
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.kernel_num = kernel_num
        self.attention = OsvaiAttention(in_planes, out_planes, kernel_size, groups=groups,
                                        reduction=reduction, kernel_num=kernel_num)
        self.weight = nn.Parameter(torch.randn(kernel_num, out_planes, in_planes // groups, kernel_size, kernel_size),
                                   requires_grad=True)
        self._initialize_weights()

        if self.kernel_size == 1 and self.kernel_num == 1:
            self._forward_impl = self._forward_impl_pw1x
        else:
            self._forward_impl = self._forward_impl_common

    def _initialize_weights(self):
        for i in range(self.kernel_num):
            nn.init.kaiming_normal_(self.weight[i], mode='fan_out', nonlinearity='relu')

    def update_temperature(self, temperature):
        self.attention.update_temperature(temperature)

    def _forward_impl_common(self, x):
        # Multiplying channel attention (or filter attention) to weights and feature maps are equivalent,
        # while we observe that when using the latter method the models will run faster with less gpu memory cost.
        channel_attention, filter_attention, spatial_attention, kernel_attention = self.attention(x)
        batch_size, in_planes, height, width = x.size()
        x = x * channel_attention
        x = x.reshape(1, -1, height, width)
        aggregate_weight = spatial_attention * kernel_attention * self.weight.unsqueeze(dim=0)
        aggregate_weight = torch.sum(aggregate_weight, dim=1).view(
            [-1, self.in_planes // self.groups, self.kernel_size, self.kernel_size])
        output = F.conv2d(x, weight=aggregate_weight, bias=None, stride=self.stride, padding=self.padding,
                          dilation=self.dilation, groups=self.groups * batch_size)
        output = output.view(batch_size, self.out_planes, output.size(-2), output.size(-1))
        output = output * filter_attention
        return output

    def _forward_impl_pw1x(self, x):
        channel_attention, filter_attention, spatial_attention, kernel_attention = self.attention(x)
        x = x * channel_attention
        output = F.conv2d(x, weight=self.weight.squeeze(dim=0), bias=None, stride=self.stride, padding=self.padding,
                          dilation=self.dilation, groups=self.groups)
        output = output * filter_attention
        return output

    def forward(self, x):
        return self._forward_impl(x)


# --------------------------------------------------------------------------------------------------
# Variants used by the cases
# --------------------------------------------------------------------------------------------------

class ODConv2dOSVAI(ODConv2d):
    """The official OSVAI/ODConv layer: the same mathematics without the trailing bn/act.

    It keeps the seed's parameter names (attention.fc.conv.*, attention.fc.bn.*); it only has no bn.*."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.bn
        del self.act

    def forward(self, x):
        return self._forward_impl(x)


ACTS = {"silu": lambda: True, "relu": lambda: nn.ReLU(), "identity": lambda: False}


def act_name(module):
    if isinstance(module, nn.SiLU):
        return "silu"
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.Identity):
        return "identity"
    raise ValueError(f"unsupported activation {module!r}")


# --------------------------------------------------------------------------------------------------
# Case table
# --------------------------------------------------------------------------------------------------

BASE_SEED = 20220907  # any fixed number; each case derives its own seed from it and its name

GOLDEN_DIR = os.path.join("src", "test", "resources", "golden")
DEMO_DIR = os.path.join("src", "main", "resources", "org", "odconv", "demo")


@dataclass
class Layer:
    c1: int
    c2: int
    k: int = 3
    s: int = 1
    p: Optional[int] = None
    g: int = 1
    d: int = 1
    act: str = "silu"            # key of ACTS
    reduction: float = 0.0625
    kernel_num: int = 1
    min_channel: int = 16
    temperature: float = 1.0
    bn_eps: float = 1e-5         # trailing bn
    attention_bn_eps: float = 1e-5
    osvai: bool = False          # official variant: no trailing bn / act


@dataclass
class Case:
    name: str
    layers: List[Layer]
    n: int = 2
    h: int = 8
    w: int = 8
    input_scale: float = 1.0
    out_dir: str = GOLDEN_DIR


def single(name, n=2, h=8, w=8, input_scale=1.0, **layer):
    return Case(name, [Layer(**layer)], n=n, h=h, w=w, input_scale=input_scale)


CASES = [
    single("basic_k3", c1=16, c2=32, k=3, n=1, h=9, w=9),
    single("pw1x_k1_kn1", c1=24, c2=16, k=1, h=7, w=5),
    single("k1_kn3", c1=16, c2=24, k=1, kernel_num=3, h=6, w=6),
    single("kn2", c1=16, c2=16, kernel_num=2),
    single("kn3", c1=16, c2=16, kernel_num=3),
    single("kn4", c1=16, c2=16, kernel_num=4),
    single("stride2_odd", c1=16, c2=16, s=2, n=1, h=11, w=13),
    single("padding0", c1=16, c2=16, p=0, h=9, w=9),
    single("dilation2", c1=16, c2=16, d=2, h=12, w=12),
    single("k5", c1=16, c2=16, k=5, kernel_num=2, h=10, w=10),
    single("groups2", c1=16, c2=32, g=2, kernel_num=2),
    single("groups4_odd", c1=20, c2=28, g=4, h=7, w=9),
    single("depthwise", c1=32, c2=32, g=32, h=10, w=10),
    single("depthwise_kn2_s2", c1=24, c2=24, g=24, s=2, kernel_num=2, h=9, w=9),
    single("temperature", c1=16, c2=16, kernel_num=4, temperature=4.0),
    single("relu", c1=16, c2=16, act="relu"),
    single("identity", c1=16, c2=16, act="identity"),
    single("bn_eps", c1=16, c2=16, kernel_num=2, bn_eps=1e-3, attention_bn_eps=1e-3),
    single("reduction_wide", c1=64, c2=32, reduction=0.5, h=6, w=6),
    single("min_channel8", c1=16, c2=16, min_channel=8),
    single("batch4", c1=16, c2=16, kernel_num=2, n=4, h=7, w=7),
    single("one_by_one_input", c1=16, c2=16, h=1, w=1),
    single("nonsquare", c1=12, c2=20, n=1, h=5, w=17),
    single("large_values", c1=16, c2=16, input_scale=50.0),
    single("osvai_nobn", c1=16, c2=32, kernel_num=4, act="identity", osvai=True),
    Case("chain3", [Layer(16, 32, k=3, kernel_num=2),
                    Layer(32, 32, k=3, s=2, g=32),
                    Layer(32, 24, k=1, act="relu")], n=2, h=12, w=12),
    # Extra coverage beyond the brief:
    # pw1x path with groups, stride and odd spatial size
    single("pw1x_groups2_s2", c1=16, c2=24, k=1, g=2, s=2, h=9, w=7),
    # depthwise 1x1: every head but the channel one is skipped
    single("depthwise_k1", c1=16, c2=16, k=1, g=16, h=6, w=6),
    # in_planes == groups but out != in: grouped "depthwise multiplier", filter head present
    single("groups_multiplier", c1=16, c2=32, g=16, kernel_num=2, h=7, w=7),
    # dilation + stride + several kernels + temperature together, padding still k // 2
    single("dilation2_s2_kn3", c1=16, c2=24, d=2, s=2, kernel_num=3, temperature=2.5, h=13, w=11),
    # explicit padding larger than k // 2 with a 5x5 kernel
    single("k5_p3_kn3", c1=12, c2=16, k=5, p=3, kernel_num=3, n=1, h=6, w=8),
]

DEMO = Case("demo", [Layer(16, 32, k=3, kernel_num=4),
                     Layer(32, 32, k=3, s=2, kernel_num=2)], n=1, h=24, w=24, out_dir=DEMO_DIR)


# --------------------------------------------------------------------------------------------------
# Building and randomizing the model
# --------------------------------------------------------------------------------------------------

def case_seed(name):
    return (BASE_SEED * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2 ** 31)


def build_layer(spec: Layer) -> ODConv2d:
    cls = ODConv2dOSVAI if spec.osvai else ODConv2d
    act = ACTS["identity" if spec.osvai else spec.act]()
    layer = cls(spec.c1, spec.c2, spec.k, s=spec.s, p=spec.p, g=spec.g, act=act, d=spec.d,
                reduction=spec.reduction, kernel_num=spec.kernel_num)
    if spec.min_channel != 16:  # ODConv2d does not pass min_channel on; rebuild its Attention
        layer.attention = Attention(spec.c1, spec.c2, spec.k, groups=spec.g, reduction=spec.reduction,
                                    kernel_num=spec.kernel_num, min_channel=spec.min_channel)
    layer.update_temperature(spec.temperature)
    layer.attention.fc.bn.eps = spec.attention_bn_eps
    if not spec.osvai:
        layer.bn.eps = spec.bn_eps
    return layer


@torch.no_grad()
def randomize(layer: ODConv2d):
    """Replace the (mostly constant) default init by random values so every tensor matters."""
    layer.weight.copy_(torch.randn_like(layer.weight) * 0.2)
    for m in layer.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.copy_(torch.randn_like(m.weight) * 0.3)
            if m.bias is not None:
                m.bias.copy_(torch.randn_like(m.bias) * 0.2)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.copy_(torch.randn_like(m.bias) * 0.1)
            m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
            m.running_var.uniform_(0.5, 1.5)


def layer_metadata(name, spec: Layer, layer: ODConv2d):
    attention_width = layer.attention.fc.conv.out_channels
    assert attention_width == max(int(spec.c1 * spec.reduction), spec.min_channel)
    has_bn = hasattr(layer, "bn")
    return {
        "name": name,
        "in_planes": layer.in_planes,
        "out_planes": layer.out_planes,
        "kernel_size": layer.kernel_size,
        "stride": layer.stride,
        "padding": layer.padding,
        "dilation": layer.dilation,
        "groups": layer.groups,
        "reduction": spec.reduction,
        "kernel_num": layer.kernel_num,
        "min_channel": spec.min_channel,
        "temperature": float(layer.attention.temperature),
        "act": act_name(layer.act) if has_bn else "identity",
        "bn": has_bn,
        "bn_eps": float(layer.bn.eps) if has_bn else 1e-5,
        "attention_bn_eps": float(layer.attention.fc.bn.eps),
    }


# --------------------------------------------------------------------------------------------------
# safetensors writer
# --------------------------------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, tensor); written as F32 in the given order, contiguous."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in tensors:
        data = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for data in blobs:
            f.write(data)
    return 8 + len(head) + offset


# --------------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------------

def max_abs_diff(a, b):
    return (a.double() - b.double()).abs().max().item()


def run_case(case: Case):
    torch.manual_seed(case_seed(case.name))
    layers = []
    for spec in case.layers:
        layer = build_layer(spec)
        randomize(layer)
        layers.append(layer)
    model = nn.Sequential(*layers).eval()
    x = torch.randn(case.n, case.layers[0].c1, case.h, case.w) * case.input_scale

    with torch.no_grad():
        expected = model(x)
        expected64 = copy.deepcopy(model).double()(x.double())
        # Cross-check: the common path must give the same numbers where the pw1x path is used.  With
        # k == 1 and kernel_num == 1 both spatial and kernel attention are the scalar 1.0, so the common
        # path's aggregated weight has no batch dimension and only works for batch 1: run it per sample.
        common = copy.deepcopy(model)
        pw1x_layers = [i for i, l in enumerate(common) if l._forward_impl.__func__ is ODConv2d._forward_impl_pw1x]
        for i in pw1x_layers:
            common[i]._forward_impl = common[i]._forward_impl_common
        expected_common = torch.cat([common(x[i:i + 1]) for i in range(case.n)])

    names = [f"model.{i}" for i in range(len(layers))]
    tensors = [(f"{prefix}.{key}", value)
               for prefix, layer in zip(names, layers)
               for key, value in layer.state_dict().items()
               if not key.endswith("num_batches_tracked")]
    meta = {"format_version": 1,
            "layers": [layer_metadata(nm, spec, l) for nm, spec, l in zip(names, case.layers, layers)]}

    out_dir = os.path.join(case.out_dir, case.name) if case.out_dir == GOLDEN_DIR else case.out_dir
    os.makedirs(out_dir, exist_ok=True)
    size = write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, {"odconv": json.dumps(meta)})
    size += write_safetensors(os.path.join(out_dir, "input.safetensors"), [("input", x)])
    size += write_safetensors(os.path.join(out_dir, "expected.safetensors"), [("output", expected)])

    paths = "/".join("pw1x" if i in pw1x_layers else "common" for i in range(len(layers)))
    print(f"{out_dir}: input {list(x.shape)} -> output {list(expected.shape)}, {len(tensors)} tensors, "
          f"{size} bytes, path {paths}, max|out| {expected.abs().max().item():.4g}, "
          f"f32-vs-f64 {max_abs_diff(expected, expected64):.3g}"
          + (f", pw1x-vs-common {max_abs_diff(expected, expected_common):.3g}" if pw1x_layers else ""))
    return size


def main():
    if not os.path.isdir(os.path.join("src", "main")):
        sys.exit("run from the repository root: /usr/bin/python3 tools/golden/make_golden.py")
    torch.set_num_threads(1)  # keep float summation order independent of the machine
    print(f"torch {torch.__version__}, base seed {BASE_SEED}")
    total = sum(run_case(case) for case in CASES)
    print(f"{len(CASES)} golden cases, {total} bytes")
    print(f"demo: {run_case(DEMO)} bytes")


if __name__ == "__main__":
    main()
