"""A YOLO-style network with ODConv layers of both families among ordinary layers, and its static twin.

Used by the ONNX Runtime fixtures (tools/golden/make_onnx_fixtures.py), the ONNX exporter's tests and the
whole-network benchmark (tools/bench/whole_network.py), with ``randomize(net, generator, scaled_by_fan_in=True)``
(modules.py). The structure is YOLOv5's: a Conv-BN-SiLU stem, C3-like bottlenecks with residual adds, an SPPF
block (three max pools and a concat), an upsample and concat back to an earlier scale, and 1x1 detection heads
at two scales. ODConv layers cover both families (the YOLO-style seed with
BatchNorm and activation, the official OSVAI one without), kernel 1 and 3, stride 2, groups, depthwise,
kernel_num 1 and 4, temperature != 1, and eps 1e-3 (what YOLOv5's initialize_weights sets).

``width`` scales every channel count: 16 gives a small net for fixtures, 32 or 64 a realistic one to time.
"""

import torch
import torch.nn as nn

from .modules import Conv, ODConv2d, OsvaiODConv2d


class Bottleneck(nn.Module):
    """YOLOv5's Bottleneck with an ODConv as its 3x3: 1x1 Conv, then ODConv, plus the input."""

    def __init__(self, c, odconv):
        super().__init__()
        self.cv1 = Conv(c, c, 1)
        self.cv2 = odconv
        self.add = True

    def forward(self, x):
        return x + self.cv2(self.cv1(x))


class SPPF(nn.Module):
    """YOLOv5's SPPF: 1x1 Conv, three chained 5x5 max pools, concat of the four, 1x1 Conv."""

    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class YoloODConvNet(nn.Module):
    """Input [N, 3, H, W] (H, W multiples of 16); outputs two detection maps, at strides 8 and 16."""

    def __init__(self, width=16, outputs=18):
        super().__init__()
        w = width
        self.stem = Conv(3, w, 3, 2)                                                    # /2
        self.down1 = ODConv2d(w, 2 * w, 3, s=2, kernel_num=4)                           # /4, seed, stride 2, kn 4
        self.stage1 = Bottleneck(2 * w, ODConv2d(2 * w, 2 * w, 3, g=2, kernel_num=1))   # seed, groups 2, kn 1
        self.down2 = ODConv2d(2 * w, 4 * w, 3, s=2, kernel_num=4)                       # /8
        self.stage2 = Bottleneck(4 * w, OsvaiODConv2d(4 * w, 4 * w, 3, padding=1, groups=4 * w,
                                                      kernel_num=4))                    # OSVAI, depthwise, kn 4
        self.down3 = ODConv2d(4 * w, 8 * w, 3, s=2, kernel_num=1)                       # /16
        self.sppf = SPPF(8 * w, 8 * w)
        self.reduce = OsvaiODConv2d(8 * w, 4 * w, 1, kernel_num=4)                      # OSVAI, k 1, kn 4
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.fuse = ODConv2d(8 * w, 4 * w, 1, kernel_num=1, act=nn.ReLU())              # seed, pw1x, ReLU
        self.head8 = nn.Conv2d(4 * w, outputs, 1)
        self.head16 = nn.Conv2d(4 * w, outputs, 1)
        self.down2.update_temperature(2.5)
        self.reduce.update_temperature(0.7)
        for m in self.modules():  # YOLOv5's initialize_weights
            if isinstance(m, nn.BatchNorm2d):
                m.eps = 1e-3
                m.momentum = 0.03

    def forward(self, x):
        x = self.stage1(self.down1(self.stem(x)))
        p8 = self.stage2(self.down2(x))
        p16 = self.reduce(self.sppf(self.down3(p8)))
        fused = self.fuse(torch.cat((self.up(p16), p8), 1))
        return self.head8(fused), self.head16(p16)


class StaticTwin(nn.Module):
    """A static convolution of an ODConv layer's shape: Conv2d (no bias) + BatchNorm + its activation."""

    def __init__(self, odconv):
        super().__init__()
        self.conv = nn.Conv2d(odconv.in_planes, odconv.out_planes, odconv.kernel_size, odconv.stride,
                              odconv.padding, odconv.dilation, odconv.groups, bias=False)
        self.bn = nn.BatchNorm2d(odconv.out_planes)
        act = getattr(odconv, "act", None)
        self.act = act if act is not None else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


def static_twin(model: nn.Module) -> nn.Module:
    """A copy-free twin of ``model`` in structure: every ODConv module replaced by StaticTwin (new weights)."""
    for name, child in list(model.named_children()):
        if isinstance(child, ODConv2d):  # either family: OsvaiODConv2d is one too
            setattr(model, name, StaticTwin(child))
        else:
            static_twin(child)
    return model

