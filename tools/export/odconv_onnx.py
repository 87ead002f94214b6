#!/usr/bin/python3
"""Export a whole PyTorch model to ONNX with every ODConv layer as one ``org.odconv::ODConv2d`` node.

The file runs in ONNX Runtime with odconv's operator library registered (``libodconv_ort.so``; from Java
``OdconvOrt.register(options)``, or ``java -jar odconv.jar onnx``). ODConv modules are found by structure, as
``export_odconv`` finds them (the YOLO-style seed module and the official OSVAI one); everything else is
exported by ``torch.onnx.export`` as usual. The batch dimension is dynamic.

The node's contract (inputs, attributes) is written down in ``native/include/odconv_ort.h``: input 0 is the
activation, then the layer's parameters in ``state_dict()`` order as constant initializers, and the
configuration as attributes.

Library use::

    from odconv_onnx import export_onnx
    export_onnx(model.eval(), torch.randn(1, 3, 160, 160), "model.onnx")

Command line: ``odconv_export.py --model model.pt --output model.onnx --input-shape 1,3,160,160``.

Works with PyTorch 1.13 and 2.x (the TorchScript-based exporter; ``dynamo=False`` where that exists).
"""

import contextlib
import inspect
import os
import tempfile
import types
import warnings
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from odconv_export import ODConvLayer, _eval_mode, find_odconv_layers

__all__ = ["DOMAIN", "OP_TYPE", "OP_VERSION", "export_onnx", "node_attributes", "torchscript_exporter"]

DOMAIN = "org.odconv"
OP_TYPE = "ODConv2d"
OP_VERSION = 1
TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)


def torchscript_exporter() -> Dict[str, object]:
    """The ``torch.onnx.export`` arguments that choose the TorchScript-based exporter, which honours symbolic():
    ``dynamo=False`` on PyTorch 2.x, where the dynamo exporter may be the default; nothing on 1.x."""
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def node_attributes(layer: ODConvLayer) -> Dict[str, object]:
    """The ``ODConv2d`` node attributes of a layer (odconv_ort.h), from its odconv model-file entry."""
    c = layer.config
    width = max(int(c["in_planes"] * c["reduction"]), c["min_channel"])
    return {
        **{name: int(c[name]) for name in ("in_planes", "out_planes", "kernel_size", "stride", "padding",
                                           "dilation", "groups", "kernel_num")},
        "attention_channels": width,
        "batch_norm": int(bool(c["bn"])),
        "activation": c["act"],
        "temperature": float(c["temperature"]),
        "bn_eps": float(c["bn_eps"]),
        "attention_bn_eps": float(c["attention_bn_eps"]),
    }


def _typed(attributes: Dict[str, object]) -> Dict[str, object]:
    """Attributes as ``g.op`` takes them: the name suffixed with its ONNX type (_i, _f, _s)."""
    suffix = {int: "_i", float: "_f", str: "_s"}
    return {name + suffix[type(value)]: value for name, value in attributes.items()}


@contextlib.contextmanager
def _tracing_suspended():
    state = torch._C._get_tracing_state()
    torch._C._set_tracing_state(None)
    try:
        yield
    finally:
        torch._C._set_tracing_state(state)


def _node_function(module: nn.Module, attributes: Dict[str, object], channels_last: bool) -> type:
    """An autograd Function for one ODConv module: the module's own forward while tracing, one
    org.odconv::ODConv2d node in the ONNX graph. Only tensors go through apply() (the tracer records nothing
    else), so the module and its attributes are held by the class."""

    class ODConv2dNode(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *parameters):  # parameters: only for the graph, as the node's inputs
            with _tracing_suspended():  # the node stands for the module: what it calls is not traced
                return module._odconv_module_forward(x)

        @staticmethod
        def symbolic(g, x, *parameters):
            # No output type: torch.onnx's shape inference, which knows no org.odconv op, would replace it
            # anyway; ONNX Runtime gets the output shape from the operator's own inference.
            if not channels_last:
                return g.op(f"{DOMAIN}::{OP_TYPE}", x, *parameters, **_typed(attributes))
            # The node in NHWC between two Transposes: ONNX Runtime folds the first into the reorder out of its
            # blocked layout and pushes the second into the next reorder into it, so that neither it nor odconv
            # moves the activations to NCHW and back.
            nhwc = g.op("Transpose", x, perm_i=list(TO_NHWC))
            y = g.op(f"{DOMAIN}::{OP_TYPE}", nhwc, *parameters, **_typed({**attributes, "layout": "NHWC"}))
            return g.op("Transpose", y, perm_i=list(TO_NCHW))

    return ODConv2dNode


def _node_forward(function: type, parameters: tuple):
    """A forward taking only x: torch.onnx reads the root module's forward signature, defaults included."""

    def forward(self, x):
        return function.apply(x, *parameters)

    return forward


_MISSING = object()


@contextlib.contextmanager
def _as_onnx_nodes(model: nn.Module, layers: List[ODConvLayer], channels_last: bool):
    """While active, each ODConv module of ``layers`` runs through _ODConv2dNode."""
    modules = dict(model.named_modules())
    patched = []
    try:
        for layer in layers:
            module = modules.get(layer.name, model)  # a model that is one ODConv layer is named ROOT_NAME
            prefix = layer.name + "."
            state = module.state_dict(keep_vars=True)  # the Parameters themselves, so they become initializers
            parameters = tuple(state[name[len(prefix):]] for name, _ in layer.tensors)
            forward = _node_forward(_node_function(module, node_attributes(layer), channels_last), parameters)

            own = module.__dict__.get("forward", _MISSING)  # a forward set on the instance goes back as it was
            module._odconv_module_forward = module.forward
            module.forward = types.MethodType(forward, module)
            patched.append((module, own))
        yield
    finally:
        for module, own in patched:
            del module.forward
            if own is not _MISSING:
                module.forward = own
            del module._odconv_module_forward


@contextlib.contextmanager
def _initializers_merged_only_when_shared():
    """While active, torch.onnx.export merges only initializers that are the same tensor.

    In eval mode the exporter also merges initializers of equal value (``_jit_pass_onnx_deduplicate_initializers``)
    and reads each dropped one through an ``Identity`` node: an untrained BatchNorm's statistics, zero biases,
    or any two equal parameters of one shape would then reach the ODConv node as Identity outputs, not as the
    constant initializers the operator requires. Merging by storage (what the pass does in training mode)
    keeps every parameter its own initializer and still merges tied weights.
    """
    name = "_jit_pass_onnx_deduplicate_initializers"
    original = getattr(torch._C, name, None)
    if original is None:  # a PyTorch without the pass: nothing to adjust
        yield
        return

    def by_storage(graph, params_dict, is_train=False, *args, **kwargs):
        return original(graph, params_dict, True, *args, **kwargs)

    setattr(torch._C, name, by_storage)
    try:
        yield
    finally:
        setattr(torch._C, name, original)


@contextlib.contextmanager
def _export_warnings_silenced():
    """Silences the warnings torch.onnx.export (PyTorch 1.13) gives for every custom node, and only those:
    ``g.op`` being deprecated, and no shape inference for org.odconv::ODConv2d or the prim::Constant beside it.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning,
                                message=r"'torch\.onnx\._patch_torch\._graph_op' is deprecated")
        warnings.filterwarnings("ignore", category=UserWarning,
                                message=r"The shape inference of (org\.odconv::ODConv2d|prim::Constant) type "
                                        r"is missing")
        yield


def _tensors_of(value) -> List[torch.Tensor]:
    """The tensors of a model's output in the order torch.onnx makes them outputs (nested sequences and dict
    values flattened)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [tensor for item in value for tensor in _tensors_of(item)]
    return []


def export_onnx(model: nn.Module, example_input: torch.Tensor, path: str, *, opset: int = 17,
                input_name: str = "input", output_names: Optional[Sequence[str]] = None,
                channels_last: bool = True) -> List[str]:
    """Exports ``model`` to the ONNX file ``path``, each ODConv module as one ``org.odconv::ODConv2d`` node.

    ``example_input``: one input tensor (NCHW) to trace with; its batch size does not matter, the file's batch
    dimension is dynamic. ``output_names``: one name per model output (default ``output``, or ``output0``,
    ``output1``, ... when the model returns several; ValueError when the count differs). The graph is the
    model in eval mode (BatchNorms use their running statistics), whatever its mode; afterwards every module's
    train/eval flag is as it was and nothing of the model has changed. ``channels_last`` (default): each node
    takes and gives NHWC (its ``layout`` attribute), between a Transpose from NCHW and one back, which ONNX
    Runtime folds into the reorders out of and into its blocked layout around its own convolutions, so that
    neither it nor odconv moves the activations to NCHW and back; ``False``: each node NCHW, nothing around it. Raises UnsupportedModuleError (a
    ValueError) naming ODConv modules the operator cannot represent, as export_odconv does; nothing is written
    then. The file is written atomically. Returns the names of the ODConv modules exported as odconv nodes, in
    model order.
    """
    layers = find_odconv_layers(model)
    with _eval_mode(model):
        with torch.no_grad():
            probe = model(example_input)
        count = len(_tensors_of(probe))  # torch.onnx flattens nested tuples, lists and dicts into outputs
        if output_names is None:
            output_names = ["output"] if count == 1 else [f"output{i}" for i in range(count)]
        output_names = list(output_names)
        if len(output_names) != count:
            raise ValueError(f"output_names has {len(output_names)} names, the model returns {count} outputs")
        dynamic = {name: {0: "batch"} for name in [input_name, *output_names]}

        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".odconv-export-", suffix=".onnx", dir=directory)
        os.close(fd)
        try:
            with _as_onnx_nodes(model, layers, channels_last), _initializers_merged_only_when_shared(), \
                    _export_warnings_silenced(), torch.no_grad():
                torch.onnx.export(model, (example_input,), tmp, opset_version=opset, input_names=[input_name],
                                  output_names=output_names, dynamic_axes=dynamic, do_constant_folding=True,
                                  custom_opsets={DOMAIN: OP_VERSION}, **torchscript_exporter())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return [layer.name for layer in layers]
