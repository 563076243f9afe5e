"""Structured-config schemas (registered in Hydra's ConfigStore).

Each YAML option of a group starts its defaults list with the schema of its kind, e.g.
``conf/neuron/if.yaml``: ``defaults: [schema_if, _self_]``. OmegaConf then rejects unknown keys
and wrong types at composition; :func:`snnexp.config.validate.check_ranges` checks the ranges
declared here with :func:`rng` (Hydra has no range checks of its own). Schemas whose fields
differ per option (neurons, norms, models, data sets) keep the common fields here and let each
YAML add its own; a kind of option with settings of its own gets a subclass (``DVSDataConfig``).

Paper constants do NOT live here: the defaults below are only what a field is when a YAML file
does not set it; every paper value is written in the YAML option of that paper.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING


def rng(
    default: Any = MISSING,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple | None = None,
):
    """A dataclass field with range/choice metadata checked after composition."""
    meta = {k: v for k, v in dict(ge=ge, gt=gt, le=le, lt=lt, choices=choices).items() if v is not None}
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------- top level
@dataclass
class PathsConfig:
    # where the data sets live: data.root of each data set is <data_root>/<name> unless set
    data_root: str = "${oc.env:SNNEXP_DATA,data}"


@dataclass
class TrainConfig:
    T: int = rng(4, ge=1)
    seed: int = rng(0, ge=0)
    device: str = rng("auto", choices=("auto", "cpu", "cuda", "mps"))
    resume: Optional[str] = None  # null | auto | path/to/checkpoint.pt
    deterministic: bool = True
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: Any = MISSING
    model: Any = MISSING
    block: Any = MISSING
    neuron: Any = MISSING
    surrogate: Any = MISSING
    norm: Any = MISSING
    encoder: Any = MISSING
    trainer: Any = MISSING
    method: Any = MISSING
    optim: Any = MISSING
    sched: Any = MISSING
    logger: Any = MISSING
    experiment_name: Optional[str] = None  # set by experiment/*.yaml, used for grouping runs
    paper: Optional[str] = None  # which paper table an experiment reproduces
    # free-form paper values that other keys interpolate, e.g. SEW Table S2's lr per block type:
    # optim.lr: ${oc.select:paper_hparams.lr_by_block.${block.name},0.1}
    paper_hparams: Dict[str, Any] = field(default_factory=dict)
    # a paper's claim tested in miniature (conf/experiment/claims/; snnexp claims): its statement,
    # source, arms, seeds, metric and the rule that decides it, all written before the run
    claim: Dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalConfig(TrainConfig):
    ckpt: str = MISSING  # path/to/last.pt (or best.pt)
    split: str = rng("test", choices=("test", "train"))
    out: Optional[str] = None  # metrics JSON; default: <ckpt dir>/../eval_<split>_T<T>.json


# ---------------------------------------------------------------- trainer / optim / sched
@dataclass
class TrainerConfig:
    """The loop's settings; how a step updates the weights is the ``method`` group."""

    epochs: int = rng(10, ge=1)
    batch_size: int = rng(64, ge=1)
    eval_batch_size: Optional[int] = None
    loss: str = rng("ce", choices=("ce", "mse"))
    label_smoothing: float = rng(0.0, ge=0.0, lt=1.0)
    amp: bool = False
    amp_dtype: str = rng("bf16", choices=("bf16", "fp16"))
    clip_grad: Optional[float] = None
    eval_every: int = rng(1, ge=1)
    ckpt_every_steps: int = rng(0, ge=0)  # 0: at the end of each epoch only
    keep_best: bool = True
    sync_bn: bool = False
    num_workers: int = rng(0, ge=0)
    max_steps_per_epoch: Optional[int] = None  # cap for smoke runs
    stop_after_epochs: Optional[int] = None  # end this process after N more epochs; resume=auto goes on
    progress: bool = True
    compile: bool = False
    require_fast_path: bool = False  # true: a neuron layer left on the Python loop is an error
    memopt: str = rng("none", choices=("none", "checkpoint", "compress"))  # engine/memopt.py
    log_energy: bool = False  # firing rates + synaptic operations at each evaluation (energy.jsonl, W&B)


@dataclass
class OptimConfig:
    name: str = MISSING  # an OPTIMIZERS entry (conf/optim/<name>.yaml)
    lr: float = rng(0.1, gt=0.0)
    momentum: float = rng(0.9, ge=0.0, lt=1.0)
    nesterov: bool = False
    weight_decay: float = rng(0.0, ge=0.0)
    # weight decay per parameter kind (engine/optim.py); null: weight_decay
    norm_weight_decay: Optional[float] = rng(None, ge=0.0)
    bias_weight_decay: Optional[float] = rng(None, ge=0.0)
    threshold_weight_decay: Optional[float] = rng(None, ge=0.0)  # DSR: the L2 term on V_th
    weight_weight_decay: Optional[float] = rng(None, ge=0.0)
    betas: list = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class SchedConfig:
    name: str = MISSING  # a SCHEDULES entry (conf/sched/<name>.yaml)
    t_max: Optional[int] = None  # cosine: epochs of one half period (default: the run's epochs)
    eta_min: float = rng(0.0, ge=0.0)
    step_size: int = rng(30, ge=1)  # step: epochs between decays
    gamma: float = rng(0.1, gt=0.0, le=1.0)
    milestones: list = field(default_factory=list)  # multistep: fractions of the run (0..1) or epochs
    warmup_epochs: float = rng(0.0, ge=0.0)
    warmup_start_factor: float = rng(0.1, gt=0.0, le=1.0)
    per_step: bool = True  # update the lr every optimizer step (smooth) instead of once per epoch


@dataclass
class LoggerConfig:
    name: str = MISSING  # a LOGGERS entry (conf/logger/<name>.yaml)
    project: str = "snnexp"
    entity: Optional[str] = None
    mode: str = rng("offline", choices=("offline", "online", "disabled"))
    group: Optional[str] = None
    tags: list = field(default_factory=list)
    log_every: int = rng(50, ge=1)


# ---------------------------------------------------------------- open groups
# These subclass Dict[str, Any]: the common fields are typed and range-checked, and each option
# adds the fields its builder takes (checked against the builder's signature when it is built).
warnings.filterwarnings("ignore", message=r"Class `\w+` subclasses `Dict`")


@dataclass
class NeuronConfig(Dict[str, Any]):
    name: str = MISSING
    # every spiking neuron's YAML sets it (the norms scale with it: tdBN's alpha V_th); null for
    # units without a threshold
    v_threshold: Optional[float] = rng(None, gt=0.0)


@dataclass
class SurrogateConfig(Dict[str, Any]):
    name: str = MISSING  # each option declares its own shape constants (alpha, a, width, ...)


@dataclass
class NormConfig(Dict[str, Any]):
    name: str = MISSING


@dataclass
class EncoderConfig(Dict[str, Any]):
    name: str = MISSING


@dataclass
class MethodConfig(Dict[str, Any]):
    name: str = MISSING


@dataclass
class BlockConfig(Dict[str, Any]):
    name: str = MISSING
    zero_init: bool = MISSING


@dataclass
class ModelConfig(Dict[str, Any]):
    name: str = MISSING  # the model's own keys (paper values) are in its YAML
    # the data set fixes these three for every model: written once here, not in each model file
    in_channels: int = II("data.in_channels")
    num_classes: int = II("data.num_classes")
    image_size: int = II("data.image_size")


@dataclass
class DataConfig(Dict[str, Any]):
    name: str = MISSING
    root: Optional[str] = None
    num_classes: int = rng(MISSING, ge=1)
    in_channels: int = rng(MISSING, ge=1)
    image_size: int = rng(MISSING, ge=1)
    sequence: bool = False  # samples are [T, C, H, W] frame sequences rather than static images


# the choices the DVS data sets' code reads from here too (one source; this module stays torch-free)
DVS_SPLIT_BY = ("number", "time")  # spikingjelly's split_by: equal event counts | equal durations
RESIZE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area")  # torch interpolate modes
CIFAR10_DVS_SPLIT_ORDERS = ("name", "number")  # spikingjelly's file-name order | by sample number


@dataclass
class DVSDataConfig(DataConfig):
    """Event-camera data sets: recordings integrated into frames (``snnexp.data.dvs``). Cross-field
    checks (T_train <= frames per sample, class and channel counts, root set) are the builder's."""

    frames_number: Optional[int] = rng(None, ge=1)  # null: T
    split_by: str = rng(MISSING, choices=DVS_SPLIT_BY)
    frame_duration_ms: Optional[float] = rng(None, gt=0.0)  # split_by=time: T frames of this length
    resize_mode: str = rng("bilinear", choices=RESIZE_MODES)
    temporal_delete: bool = MISSING
    T_train: Optional[int] = rng(None, ge=1)
    cache: bool = True
    preprocess_threads: int = rng(4, ge=1)


@dataclass
class CIFAR10DVSDataConfig(DVSDataConfig):
    train_ratio: float = rng(MISSING, gt=0.0, lt=1.0)  # per class, in file order (no official split)
    split_order: str = rng(MISSING, choices=CIFAR10_DVS_SPLIT_ORDERS)


SCHEMAS = {
    ("trainer", "schema"): TrainerConfig,
    ("method", "schema"): MethodConfig,
    ("optim", "schema"): OptimConfig,
    ("sched", "schema"): SchedConfig,
    ("logger", "schema"): LoggerConfig,
    ("neuron", "schema"): NeuronConfig,
    ("surrogate", "schema"): SurrogateConfig,
    ("norm", "schema"): NormConfig,
    ("encoder", "schema"): EncoderConfig,
    ("block", "schema"): BlockConfig,
    ("model", "schema"): ModelConfig,
    ("data", "schema"): DataConfig,
    ("data", "schema_dvs"): DVSDataConfig,
    ("data", "schema_cifar10_dvs"): CIFAR10DVSDataConfig,
}


def register_schemas() -> None:
    cs = ConfigStore.instance()
    cs.store(name="schema_train", node=TrainConfig)
    cs.store(name="schema_eval", node=EvalConfig)
    for (group, name), node in SCHEMAS.items():
        cs.store(group=group, name=name, node=node)
