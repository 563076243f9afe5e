"""The layouts of weights written by other code, as data: how to recognise each one and how its
tensor names map onto snnexp's (``snnexp.engine.foreign`` applies them).

``sew_authors``: the ImageNet checkpoints the SEW authors released (Fang et al. 2021; the figshare
item linked from the readme of fangwei123456/Spike-Element-Wise-ResNet: ``sew18/34/50/101/152`` and
``spiking_resnet_*`` ``checkpoint_319.pth`` / ``checkpoint_max_test_acc1.pth``). They were saved by
that repository's ``imagenet/train.py`` as ``{'model': state_dict, 'optimizer', 'lr_scheduler',
'epoch', 'args': argparse.Namespace, 'max_test_acc1', 'test_acc5_at_max_test_acc1'}`` from the
models of ``imagenet/sew_resnet.py`` / ``spiking_resnet.py``, written for spikingjelly's 2021
``clock_driven`` API:
- stem ``conv1`` + ``bn1`` (plain torch layers, run once on the image), ``fc`` after the mean over T;
- each block stage ``convN = SeqToANNContainer(conv, bn)``: that container keeps its layers under
  ``.module`` (an ``nn.Sequential``), hence ``layerX.Y.convN.module.0.weight`` (conv) and
  ``layerX.Y.convN.module.1.*`` (BN);
- SEW downsample ``Sequential(SeqToANNContainer(conv1x1, bn), MultiStepIFNode)``:
  ``downsample.0.module.{0,1}``; Spiking ResNet downsample ``SeqToANNContainer(conv1x1, bn)``:
  ``downsample.module.{0,1}``;
- ``cext.neuron.MultiStepIFNode`` (V_th=1, V_reset=0, detached reset) and the pools hold no tensor.
``args.connect_f`` is the g of a SEW ResNet (``add``/``and``/``iand``); a Spiking ResNet has none.

``spikingjelly``: spikingjelly 2.0's model zoo (``activation_based.model.sew_resnet`` /
``spiking_resnet``), torchvision's names: ``conv1``, ``bn1``, ``layerX.Y.{convN,bnN}``,
``layerX.Y.downsample.{0,1}``, ``fc``, the state dict itself or under ``'model'``.

snnexp's names (``models/sew_resnet.py``): ``stem.conv1``, ``stem.bn1``, ``body.layerX.Y.convN``,
``body.layerX.Y.bnN``, ``body.layerX.Y.downsample.{0,1}``, ``readout.fc``.
"""

from __future__ import annotations

from snnexp.config.schema import WEIGHT_FORMATS

_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
_BLOCK = r"(layer[1-4]\.\d+)"

LAYOUTS: dict[str, dict] = {
    "sew_authors": {
        "what": "the SEW authors' released ImageNet checkpoint (Spike-Element-Wise-ResNet imagenet/train.py)",
        # a key only this layout has: SeqToANNContainer's `.module`
        "signature": rf"^{_BLOCK}\.conv1\.module\.0\.weight$",
        "rules": [
            (r"^conv1\.weight$", r"stem.conv1.weight"),
            (rf"^bn1\.{_BN}$", r"stem.bn1.\1"),
            (r"^fc\.(weight|bias)$", r"readout.fc.\1"),
            (rf"^{_BLOCK}\.conv(\d)\.module\.0\.weight$", r"body.\1.conv\2.weight"),
            (rf"^{_BLOCK}\.conv(\d)\.module\.1\.{_BN}$", r"body.\1.bn\2.\3"),
            # SEW: Sequential(SeqToANNContainer(conv, bn), IF)
            (r"^" + _BLOCK + r"\.downsample\.0\.module\.0\.weight$", r"body.\1.downsample.0.weight"),
            (rf"^{_BLOCK}\.downsample\.0\.module\.1\.{_BN}$", r"body.\1.downsample.1.\2"),
            # Spiking ResNet: SeqToANNContainer(conv, bn)
            (r"^" + _BLOCK + r"\.downsample\.module\.0\.weight$", r"body.\1.downsample.0.weight"),
            (rf"^{_BLOCK}\.downsample\.module\.1\.{_BN}$", r"body.\1.downsample.1.\2"),
        ],
        # which block family the keys say (the two downsample forms above)
        "family": {r"\.downsample\.0\.module\.": "sew", r"\.downsample\.module\.": "spiking"},
    },
    "spikingjelly": {
        "what": "a spikingjelly 2.0 zoo state dict (activation_based.model.sew_resnet / spiking_resnet)",
        "signature": rf"^{_BLOCK}\.bn1\.running_mean$",
        "rules": [
            (r"^conv1\.weight$", r"stem.conv1.weight"),
            (rf"^bn1\.{_BN}$", r"stem.bn1.\1"),
            (r"^fc\.(weight|bias)$", r"readout.fc.\1"),
            (rf"^{_BLOCK}\.(conv\d)\.weight$", r"body.\1.\2.weight"),
            (rf"^{_BLOCK}\.(bn\d)\.{_BN}$", r"body.\1.\2.\3"),
            (rf"^{_BLOCK}\.downsample\.0\.weight$", r"body.\1.downsample.0.weight"),
            (rf"^{_BLOCK}\.downsample\.1\.{_BN}$", r"body.\1.downsample.1.\2"),
        ],
        # the sew and spiking zoo nets share names; the downsample's SN has no tensor
        "family": {},
    },
}

FORMATS = ("auto", "snnexp", *LAYOUTS)
if FORMATS != WEIGHT_FORMATS:  # the config schema's choices name exactly these layouts
    raise RuntimeError(f"config.schema.WEIGHT_FORMATS {WEIGHT_FORMATS} != weight layouts {FORMATS}")

# what the weights of these layouts are: their IF neurons (cext.neuron.MultiStepIFNode and the
# zoo's defaults in the authors' recipe), the stem run once on the image, the fc after the mean
EXPECTED_CONFIG = {
    "neuron.name": "if",
    "neuron.v_threshold": 1.0,
    "neuron.v_reset": 0.0,
    "norm.name": "bn",
}
MODELS = tuple(f"sew_resnet{d}" for d in (18, 34, 50, 101, 152))
