"""The SEW authors' released ImageNet checkpoints and spikingjelly 2.0 zoo state dicts load into
snnexp (engine/foreign.py), tested offline with no download and none of the authors' files.

The authors' layout is written here from their code (fangwei123456/Spike-Element-Wise-ResNet,
imagenet/sew_resnet.py, spiking_resnet.py, train.py): every block conv+BN sits in a
``SeqToANNContainer`` (``convN.module.0`` = conv, ``convN.module.1`` = BN), the SEW downsample is
``Sequential(SeqToANNContainer(conv, bn), IF)`` (``downsample.0.module.{0,1}``), the Spiking ResNet
downsample ``SeqToANNContainer(conv, bn)`` (``downsample.module.{0,1}``), the stem ``conv1``/``bn1``
and ``fc`` are plain layers, and train.py saves ``{'model', 'optimizer', 'lr_scheduler', 'epoch',
'args' (an argparse.Namespace), 'max_test_acc1', 'test_acc5_at_max_test_acc1'}``.

A random state dict of spikingjelly 2.0's own model (which the SEW authors wrote) is renamed into
that layout, saved as train.py saves it, loaded through snnexp, and the logits are compared with
spikingjelly's model holding the same weights (1e-5; the float sums differ in order only through
the fc before/after the mean over T).
"""

from __future__ import annotations

import argparse
import re

import pytest
import torch
from spikingjelly.activation_based import functional, neuron, surrogate
from spikingjelly.activation_based.model import sew_resnet as sj_sew
from spikingjelly.activation_based.model import spiking_resnet as sj_spiking

from snnexp.config import compose
from snnexp.engine.foreign import read_weights
from snnexp.errors import CheckpointError, ConfigError, UserError
from snnexp.inference import load_for_inference

T, B, SIZE, K = 2, 2, 32, 10
ATOL = 1e-5
DEPTHS = (18, 34, 50, 101, 152)
OWN = {"ckpt", "split", "out", "eval_T", "fold", "format"}


def authors_name(sj_key: str, family: str) -> str:
    """spikingjelly 2.0 zoo name -> the name in the authors' 2021 checkpoint."""
    k = re.sub(r"^(layer\d\.\d+)\.conv(\d)\.weight$", r"\1.conv\2.module.0.weight", sj_key)
    k = re.sub(r"^(layer\d\.\d+)\.bn(\d)\.(.+)$", r"\1.conv\2.module.1.\3", k)
    ds = "downsample.0.module" if family == "sew" else "downsample.module"
    k = re.sub(r"^(layer\d\.\d+)\.downsample\.0\.weight$", rf"\1.{ds}.0.weight", k)
    return re.sub(r"^(layer\d\.\d+)\.downsample\.1\.(.+)$", rf"\1.{ds}.1.\2", k)


def their_net(depth: int, cnf: str | None, randomize: bool = True):
    kw = dict(
        spiking_neuron=neuron.IFNode,
        num_classes=K,
        v_threshold=1.0,
        v_reset=0.0,
        detach_reset=True,
        surrogate_function=surrogate.ATan(alpha=2.0),
    )
    net = (
        getattr(sj_sew, f"sew_resnet{depth}")(cnf=cnf, **kw)
        if cnf
        else getattr(sj_spiking, f"spiking_resnet{depth}")(**kw)
    )
    functional.set_step_mode(net, "m")
    if not randomize:
        return net
    g = torch.Generator().manual_seed(depth)
    with torch.no_grad():  # BN statistics and affine terms far from the defaults: a mis-mapped key shows
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.6 + torch.rand(c, generator=g))
                m.bias.copy_((1.0 if cnf == "AND" else 0.0) + 0.3 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
    return net.eval()


def save_authors(tmp_path, net, depth: int, cnf: str | None) -> str:
    family = "sew" if cnf else "spiking"
    state = {authors_name(k, family): v for k, v in net.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    # the original code's names (origin_logs/readme.md): SEW = spiking_resnet, Spiking = mem_add_resnet2
    model = f"spiking_resnet{depth}" if cnf else f"mem_add_resnet2_{depth}"
    args = argparse.Namespace(model=model, T=4, connect_f=cnf, lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=320)
    path = tmp_path / f"{family}{depth}_checkpoint_319.pth"
    torch.save(
        {
            "model": state,
            "optimizer": opt.state_dict(),
            "lr_scheduler": sched.state_dict(),
            "epoch": 319,
            "args": args,
            "max_test_acc1": 67.0,
            "test_acc5_at_max_test_acc1": 87.0,
        },
        path,
    )
    return str(path)


def eval_cfg(ckpt: str, depth: int, block: str, *extra: str):
    return compose(
        [
            f"ckpt={ckpt}",
            "experiment=sew/imagenet",
            f"model=sew_resnet{depth}",
            f"block={block}",
            "data=synthetic",
            f"data.image_size={SIZE}",
            f"data.num_classes={K}",
            f"T={T}",
            "logger=none",
            *extra,
        ],
        config_name="eval",
    )


def load(ckpt, depth, block, *extra):
    return load_for_inference(ckpt, eval_cfg(ckpt, depth, block, *extra), [], OWN)


def max_logit_diff(ours, theirs) -> float:
    x = torch.rand(B, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = ours(x)
        b = theirs(x.unsqueeze(0).repeat(T, 1, 1, 1, 1)).mean(0)
    functional.reset_net(ours)
    functional.reset_net(theirs)
    assert a.abs().max() > 0.0 and a.std() > 0.0, "logits are constant: the comparison says nothing"
    return (a - b).abs().max().item()


FORWARD = [(18, "ADD"), (18, "IAND"), (18, "AND"), (18, None), (50, "ADD"), (50, None)]


@pytest.mark.parametrize("depth,cnf", FORWARD, ids=[f"{d}-{c or 'spiking'}" for d, c in FORWARD])
def test_authors_checkpoint_gives_spikingjelly_logits(tmp_path, depth, cnf):
    theirs = their_net(depth, cnf)
    path = save_authors(tmp_path, theirs, depth, cnf)
    ours, run_cfg, ckpt = load(path, depth, f"sew_{cnf.lower()}" if cnf else "spiking")
    assert ckpt["foreign"] == "sew_authors" and ckpt["epoch"] == 319
    diff = max_logit_diff(ours, theirs)
    print(depth, cnf, "max |logit diff|", diff)
    assert diff <= ATOL, (depth, cnf, diff)


@pytest.mark.parametrize("depth", DEPTHS)
def test_every_released_depth_maps_both_families(depth):
    """Names and shapes of every depth and both families map one to one onto snnexp's model (the
    forward is checked above for a few depths; the rules are the same). Built on the meta device:
    names and shapes only, no memory, no init."""
    from snnexp.build import build_model
    from snnexp.engine.foreign import map_names

    for cnf, block in (("ADD", "sew_add"), (None, "spiking")):
        with torch.device("meta"):
            theirs = their_net(depth, cnf, randomize=False).state_dict()
            ours = build_model(eval_cfg("x.pth", depth, block)).state_dict()
        family = "sew" if cnf else "spiking"
        mapped = map_names({authors_name(k, family): v for k, v in theirs.items()}, "sew_authors", "x.pth")
        assert sorted(mapped) == sorted(ours), sorted(set(mapped) ^ set(ours))[:5]
        bad = [k for k in ours if mapped[k].shape != ours[k].shape]
        assert not bad, (depth, cnf, bad[:3])


def test_spikingjelly_zoo_state_dict(tmp_path):
    theirs = their_net(18, "ADD")
    path = tmp_path / "zoo.pth"
    torch.save(theirs.state_dict(), path)
    assert read_weights(path).format == "spikingjelly"
    ours, _, ckpt = load(str(path), 18, "sew_add")
    assert ckpt["foreign"] == "spikingjelly"
    assert max_logit_diff(ours, theirs) <= ATOL


def test_zoo_bottleneck_iand_is_refused(tmp_path):
    """spikingjelly 2.0's Bottleneck computes IAND as A*(1-S) (tests/test_sew_equivalence.py)."""
    path = tmp_path / "zoo50.pth"
    torch.save(their_net(50, "IAND").state_dict(), path)
    with pytest.raises(CheckpointError, match=r"body\.layer1\.0.*IAND"):
        load(str(path), 50, "sew_iand")


def test_refusals_name_the_first_key(tmp_path):
    net = their_net(18, "ADD")
    path = save_authors(tmp_path, net, 18, "ADD")
    state = torch.load(path, weights_only=False)
    state["model"]["layer1.0.extra.module.0.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match=r"layer1\.0\.extra\.module\.0\.weight"):
        load(str(bad), 18, "sew_add")
    with pytest.raises(ConfigError, match=r"block=spiking: .* sew_add"):  # args.connect_f says ADD
        load(path, 18, "spiking")
    with pytest.raises(ConfigError, match=r"ResNet-18"):
        load(path, 34, "sew_add")
    with pytest.raises(ConfigError, match=r"neuron.name=lif"):
        load(path, 18, "sew_add", "neuron=lif")


class Untrusted:
    """Any class but argparse.Namespace (unpickling it could run its code)."""


def test_only_the_namespace_is_trusted(tmp_path):
    """weights_only stays on: a checkpoint that pickles any other class is refused unread."""
    path = tmp_path / "evil.pth"
    torch.save({"model": {"conv1.weight": torch.zeros(1)}, "args": Untrusted()}, path)
    with pytest.raises(UserError, match="Untrusted"):
        read_weights(path)


def test_init_from_the_authors_checkpoint(tmp_path):
    """init.from= (fine-tuning) reads the same layout: every tensor loads under init.reinit=strict."""
    from snnexp.build import build_model
    from snnexp.engine.init_from import init_from

    theirs = their_net(18, "ADD")
    path = save_authors(tmp_path, theirs, 18, "ADD")
    model = build_model(eval_cfg(path, 18, "sew_add"))
    report = init_from(model, path, reinit="strict", skip=[], echo=False)
    assert len(report["loaded"]) == len(model.state_dict()) and not report["unused"]
    assert torch.equal(
        model.state_dict()["body.layer2.0.downsample.1.running_var"],
        theirs.state_dict()["layer2.0.downsample.1.running_var"],
    )
