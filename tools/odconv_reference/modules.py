"""The PyTorch reference of the ODConv layer, in both families the exporter reads, and random weights for it.

- ``ODConv2d``: the project's seed module (YOLO-style: attention trunk ``attention.fc`` is a YOLOv5 ``Conv``,
  then the layer's own ``bn`` and ``act``), with YOLOv5's ``autopad`` and ``Conv`` that it imports;
- ``OsvaiODConv2d`` / ``OsvaiAttention``: the official OSVAI/ODConv module (github OSVAI/ODConv,
  ``modules/odconv.py``): the same mathematics, its own trunk (``fc`` Conv2d, ``bn``, ``relu``), no trailing
  BatchNorm/activation, and its own constructor signature;
- ``ODConv2dWithoutBn``: the seed without its trailing ``bn``/``act``, i.e. what OSVAI computes, under the seed's
  parameter names (a golden case);
- ``randomize``: random weights, biases and BatchNorm statistics, so that every tensor matters.

The OSVAI classes are subclasses of the seed's that differ only where OSVAI differs, so the two cannot
drift apart in the mathematics they share.
"""

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
# The seed (odconv-seed.txt), line breaks restored. Changed only by two seams that the official module's
# classes below fill: Attention.build_trunk/trunk and ODConv2d.attention_type. The seed's own modules,
# parameter names and order, and random draws are what they were.
# --------------------------------------------------------------------------------------------------

class Attention(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_size, groups=1, reduction=0.0625, kernel_num=4, min_channel=16):
        super(Attention, self).__init__()
        attention_channel = max(int(in_planes * reduction), min_channel)
        self.kernel_size = kernel_size
        self.kernel_num = kernel_num
        self.temperature = 1.0

        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.build_trunk(in_planes, attention_channel)

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

    def build_trunk(self, in_planes, attention_channel):
        self.fc = Conv(in_planes, attention_channel, act=nn.ReLU(inplace=True))

    def trunk(self, x):
        return self.fc(x)

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
        x = self.trunk(x)
        return self.func_channel(x), self.func_filter(x), self.func_spatial(x), self.func_kernel(x)


class ODConv2d(nn.Module):
    attention_type = Attention

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
        self.attention = self.attention_type(in_planes, out_planes, k, groups=g,
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
# Without the trailing BatchNorm/activation, and the official OSVAI/ODConv module
# --------------------------------------------------------------------------------------------------

class ODConv2dWithoutBn(ODConv2d):
    """The seed layer without its trailing bn and act: what the official OSVAI layer computes.

    It keeps the seed's parameter names (attention.fc.conv.*, attention.fc.bn.*); it only has no bn.*.
    BatchNorm2d and SiLU draw no random numbers, so building and deleting them leaves the random stream as
    the official module's constructor leaves it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.bn
        del self.act

    def forward(self, x):
        return self._forward_impl(x)


class OsvaiAttention(Attention):
    """The official module's attention: its trunk is a plain 1x1 Conv2d ``fc``, then ``bn`` and ``relu``."""

    def build_trunk(self, in_planes, attention_channel):
        self.fc = nn.Conv2d(in_planes, attention_channel, 1, bias=False)
        self.bn = nn.BatchNorm2d(attention_channel)
        self.relu = nn.ReLU(inplace=True)

    def trunk(self, x):
        return self.relu(self.bn(self.fc(x)))


class OsvaiODConv2d(ODConv2dWithoutBn):
    """The official OSVAI/ODConv layer, with its constructor signature (explicit padding, default kernel_num 4)."""

    attention_type = OsvaiAttention

    def __init__(self, in_planes, out_planes, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 reduction=0.0625, kernel_num=4):
        super().__init__(in_planes, out_planes, kernel_size, s=stride, p=padding, g=groups, d=dilation,
                         reduction=reduction, kernel_num=kernel_num)


# --------------------------------------------------------------------------------------------------
# Random weights
# --------------------------------------------------------------------------------------------------

@torch.no_grad()
def randomize(model: nn.Module, generator: torch.Generator = None, scaled_by_fan_in: bool = False):
    """Random values in every ODConv kernel bank, Conv2d/Linear weight and bias and BatchNorm (affine
    parameters and running statistics): PyTorch's initialization leaves many of them constant, and a trained
    model's are far from it. ``generator``: the random stream (default: torch's global one).

    ``scaled_by_fan_in``: weights with a standard deviation of sqrt(1.5 / fan-in), so that activations keep
    their size through a deep network (YoloODConvNet); otherwise fixed spreads, large enough that every tensor
    visibly matters in a model of one to a few layers. BatchNorms count 7 batches tracked, as a trained one
    does (the exporter must leave that count out).
    """
    bank_std, bias_std = (0.15, 0.1) if scaled_by_fan_in else (0.2, 0.2)

    def normal(tensor, std):
        return torch.randn(tensor.shape, generator=generator) * std

    for m in model.modules():
        bank = m._parameters.get("weight")
        if bank is not None and bank.dim() == 5:  # an ODConv kernel bank
            bank.copy_(normal(bank, bank_std))
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.copy_(normal(m.weight, (1.5 / m.weight[0].numel()) ** 0.5 if scaled_by_fan_in else 0.3))
            if m.bias is not None:
                m.bias.copy_(normal(m.bias, bias_std))
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5, generator=generator)
            m.bias.copy_(normal(m.bias, 0.1))
            m.running_mean.copy_(normal(m.running_mean, 0.1))
            m.running_var.uniform_(0.5, 1.5, generator=generator)
            m.num_batches_tracked.fill_(7)
