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
from typing import Any, Dict, List, Optional

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
    length: int | None = None,
):
    """A dataclass field with range/choice metadata checked after composition. For a list field
    the range applies to every element (``length``: the number of elements it must have); a list
    default is given as a value and copied per instance."""
    meta = dict(ge=ge, gt=gt, le=le, lt=lt, choices=choices, length=length)
    meta = {k: v for k, v in meta.items() if v is not None}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------- top level
@dataclass
class PathsConfig:
    # where the data sets live: data.root of each data set is <data_root>/<name> unless set
    data_root: str = "${oc.env:SNNEXP_DATA,data}"


# the files a figure is written as (snnexp.figures.style.save): the PNG always (W&B, the README,
# report pages show it), PDF/SVG in addition as vector files for a paper
PLOT_FORMATS = ("png", "pdf", "svg")
# weights layouts `format=` takes: engine/weight_layouts.py describes each (and checks this list)
WEIGHT_FORMATS = ("auto", "snnexp", "sew_authors", "spikingjelly")


@dataclass
class PlotsConfig:
    format: list = rng(["png"], choices=PLOT_FORMATS)  # plots.format=png,pdf,svg


@dataclass
class InitConfig(Dict[str, Any]):
    """``init.from``: a checkpoint whose matching weights start the run (pre-train, fine-tune;
    snnexp.engine.init_from). ``from`` is a Python keyword, so it is the one open key here: its
    type (a path or null) is checked when the run starts."""

    reinit: str = rng("auto", choices=("auto", "strict"))  # auto: layers whose shape differs start afresh
    skip: list = field(default_factory=list)  # name prefixes never loaded (KEYS: stem.conv1, readout.fc)
    format: str = rng("auto", choices=WEIGHT_FORMATS)  # the checkpoint's layout, as eval's format=


@dataclass
class TrainConfig:
    # an upper bound only to turn a typo (T=100000000000) into a config error, not an allocation
    # failure deep in the first forward pass; no paper here uses more than a few hundred steps
    T: int = rng(4, ge=1, le=10_000)
    seed: int = rng(0, ge=0)
    device: str = rng("auto", choices=("auto", "cpu", "cuda", "mps"))
    resume: Optional[str] = None  # null | auto | path/to/checkpoint.pt
    deterministic: bool = True
    # intra-op CPU threads: auto | N (config/threads.py); part of what makes a result repeatable
    threads: Any = "auto"
    paths: PathsConfig = field(default_factory=PathsConfig)
    init: InitConfig = field(default_factory=InitConfig)  # init.from=<ckpt>: fine-tune from its weights
    plots: PlotsConfig = field(default_factory=PlotsConfig)  # figure files: plots.format=png,pdf,svg
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
    # a paper's claim tested in miniature (conf/experiment/claims/; snnexp claims): what the paper
    # says and where, our test, arms, seeds, metric and our rule, all written before the run
    claim: Dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalConfig(TrainConfig):
    ckpt: str = MISSING  # path/to/last.pt (or best.pt)
    split: str = rng("test", choices=("test", "train"))
    # the metrics JSON (never replaced); default: <run dir>/eval/<split>_T<T>[_<n>].json
    out: Optional[str] = None
    # several inference step counts in one command (``snnexp eval ... T=50,40,30`` is rewritten to
    # eval_T=[50,40,30]): writes <out or ckpt dir/../eval_<split>_accuracy_vs_T>.md/.csv/.json/.png
    eval_T: Optional[list] = None
    fold: bool = False  # fold tdBN/BN into the convs before evaluating (TDBN Eq. 9-10)
    # whose layout ckpt= is in: auto (recognised from its tensor names) | snnexp | sew_authors |
    # spikingjelly (engine/weight_layouts.py); other code's weights run the network composed here
    format: str = rng("auto", choices=WEIGHT_FORMATS)


@dataclass
class ExportConfig(TrainConfig):
    ckpt: str = MISSING  # the trained checkpoint
    format: str = rng("nir", choices=("nir",))  # the output format (NIR: nir_export.py)
    out: str = MISSING  # the file to write; an existing one is never replaced
    weights: str = rng("auto", choices=WEIGHT_FORMATS)  # the layout of ckpt (as eval's format=)


@dataclass
class EnergyCosts:
    e_mac_pj: float = rng(MISSING, gt=0.0)  # pJ; the values and their source: conf/analyze.yaml
    e_ac_pj: float = rng(MISSING, gt=0.0)
    source: str = ""


@dataclass
class AnalyzeConfig(TrainConfig):
    what: str = rng("firing", choices=("firing", "gradients", "energy", "activity"))
    ckpt: Optional[str] = None
    compare_ckpts: Any = None  # activity: [a.pt,b.pt,...], one column each (KEYS Fig. 3)
    batches: int = rng(1, ge=1)
    split: str = rng("test", choices=("test", "train"))
    compare_blocks: Any = None  # [a,b] or "a,b"
    zero_init_compare: bool = True
    bn_mode: str = rng("auto", choices=("auto", "train", "eval"))
    out: Optional[str] = None
    energy: EnergyCosts = field(default_factory=EnergyCosts)


# The root schema of each command is an option of the `root` group (train.yaml: `root: train`);
# a command built on train.yaml swaps it (`override root: eval`), so its own keys are typed and
# range-checked too (an untyped key on a train-typed root was never checked: split=bogus passed).
ROOT_SCHEMAS = {
    "train": TrainConfig,
    "eval": EvalConfig,
    "analyze": AnalyzeConfig,
    "export": ExportConfig,
}


# ---------------------------------------------------------------- trainer / optim / sched
@dataclass
class TrainerConfig:
    """The loop's settings; how a step updates the weights is the ``method`` group."""

    # no default here for what every run sets: the value lives in conf/trainer/default.yaml
    epochs: int = rng(MISSING, ge=1)
    batch_size: int = rng(MISSING, ge=1)  # samples per optimizer step, all ranks and micro-batches together
    accumulate: int = rng(1, ge=1)  # micro-batches per optimizer step (gradient accumulation)
    eval_batch_size: Optional[int] = rng(None, ge=1)
    loss: str = rng("ce", choices=("ce", "mse"))
    label_smoothing: float = rng(0.0, ge=0.0, lt=1.0)
    amp: bool = False
    amp_dtype: str = rng("bf16", choices=("bf16", "fp16"))
    clip_grad: Optional[float] = rng(None, gt=0.0)  # max global grad norm; null: no clipping
    eval_every: int = rng(1, ge=1)
    ckpt_every_steps: int = rng(0, ge=0)  # 0: at the end of each epoch only
    keep_best: bool = True
    sync_bn: bool = False
    num_workers: int = rng(0, ge=0)
    max_steps_per_epoch: Optional[int] = rng(None, ge=1)  # cap for smoke runs
    stop_after_epochs: Optional[int] = rng(
        None, ge=1
    )  # end this process after N more epochs; resume=auto goes on
    progress: bool = True
    drop_last: bool = True  # drop the last partial training batch of each epoch
    compile: bool = False
    compile_scope: str = rng("model", choices=("model", "neurons"))  # engine/fastpath.py CompiledOrEager
    flexsn: bool = False  # CUDA: neurons without a fused kernel run a FlexSN Triton scan (neurons/flex.py)
    require_fast_path: bool = False  # true: a neuron layer left on the Python loop is an error
    memopt: str = rng("none", choices=("none", "checkpoint", "compress"))  # engine/memopt.py
    log_energy: bool = False  # firing rates + synaptic operations at each evaluation (energy.jsonl, W&B)


@dataclass
class OptimConfig:
    """What every optimizer takes; the options of one optimizer are in its own schema below, so
    ``optim=adam optim.momentum=0.9`` is an unknown key, not a value silently unused."""

    name: str = MISSING  # an OPTIMIZERS entry (conf/optim/<name>.yaml)
    lr: float = rng(MISSING, gt=0.0, le=1000.0)  # each optimizer's YAML; the bound catches typos (1e38)
    weight_decay: float = rng(0.0, ge=0.0)
    # weight decay per parameter kind (engine/optim.py); null: weight_decay
    norm_weight_decay: Optional[float] = rng(None, ge=0.0)
    bias_weight_decay: Optional[float] = rng(None, ge=0.0)
    threshold_weight_decay: Optional[float] = rng(None, ge=0.0)  # DSR: the L2 term on V_th
    weight_weight_decay: Optional[float] = rng(None, ge=0.0)


@dataclass
class SGDOptimConfig(OptimConfig):
    momentum: float = rng(0.9, ge=0.0, lt=1.0)
    nesterov: bool = False


@dataclass
class AdamOptimConfig(OptimConfig):  # Adam and AdamW
    betas: List[float] = rng([0.9, 0.999], ge=0.0, lt=1.0, length=2)  # (beta1, beta2)


@dataclass
class SchedConfig:
    name: str = MISSING  # a SCHEDULES entry (conf/sched/<name>.yaml)
    t_max: Optional[int] = rng(None, ge=1)  # cosine: epochs of one half period (default: the run's epochs)
    eta_min: float = rng(0.0, ge=0.0)
    step_size: int = rng(30, ge=1)  # step: epochs between decays
    gamma: float = rng(0.1, gt=0.0, le=1.0)
    milestones: List[float] = rng([], gt=0.0)  # multistep: fractions of the run (0..1) or epochs
    # multistep: "at": epoch index m (= fraction x epochs) is the first at the lower lr; "after": m+1
    # is (the KEYS authors' utils.adjust_learning_rate divides the lr once epoch m has been trained)
    milestone_epoch: str = rng("at", choices=("at", "after"))
    warmup_epochs: float = rng(0.0, ge=0.0)
    warmup_start_factor: float = rng(0.1, gt=0.0, le=1.0)
    warmup_steps: int = rng(0, ge=0)  # DSR: lr * (i+1)/warmup_steps for the first optimizer steps
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
    log_checkpoints: bool = False  # wandb: best.pt (else last.pt) as a model artifact at the end


# ---------------------------------------------------------------- tune
@dataclass
class SamplerConfig:  # optuna's TPE sampler (random for the first n_startup_trials)
    seed: Optional[int] = rng(0, ge=0)
    n_startup_trials: int = rng(5, ge=0)
    multivariate: bool = True


@dataclass
class PrunerConfig:  # optuna's Hyperband over epochs (max_resource: trainer.epochs)
    min_resource: int = rng(1, ge=1)
    reduction_factor: int = rng(3, ge=2)


@dataclass
class SearchConfig:
    """``snnexp tune``'s search (conf/search/); the distributions of ``space`` are checked by
    snnexp.tune.check_space, their end points by the config gate as trial configs."""

    name: str = MISSING  # the option's name (conf/search/<name>.yaml)
    space: Dict[str, Any] = field(default_factory=dict)  # dotted key -> {type, low, high | choices}
    n_trials: int = rng(20, ge=1)
    n_jobs: int = rng(1, ge=1)
    objective: str = rng("last", choices=("last", "max"))
    top_k: int = rng(6, ge=1)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    pruner: PrunerConfig = field(default_factory=PrunerConfig)


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


@dataclass
class DigitsDataConfig(DataConfig):
    test_fraction: float = rng(MISSING, gt=0.0, lt=1.0)  # held-out share of the 1797 images
    split_seed: int = rng(0, ge=0)


@dataclass
class SyntheticDataConfig(DataConfig):
    train_size: int = rng(MISSING, ge=1)
    test_size: int = rng(MISSING, ge=1)


# whose mean/std normalise CIFAR images (snnexp.data.images.CIFAR_MEAN_STD has one entry per name)
CIFAR_NORMALIZE_STATS = ("cifar10", "cifar100", "dsr_cifar10", "dsr_cifar100", "keys_cifar10")


@dataclass
class CIFARDataConfig(DataConfig):
    augment: bool = MISSING  # random crop (pad crop_padding) + horizontal flip
    crop_padding: int = rng(MISSING, ge=0)
    normalize: bool = MISSING
    normalize_stats: str = rng(MISSING, choices=CIFAR_NORMALIZE_STATS)
    verify_md5: bool = MISSING


# the choices the DVS data sets' code reads from here too (one source; this module stays torch-free)
DVS_SPLIT_BY = ("number", "time")  # spikingjelly's split_by: equal event counts | equal durations
RESIZE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area")  # torch interpolate modes
CIFAR10_DVS_SPLIT_ORDERS = ("name", "number")  # spikingjelly's file-name order | by sample number


@dataclass
class DVSDataConfig(DataConfig):
    """Event-camera data sets: recordings integrated into frames (``snnexp.data.dvs``). Cross-field
    checks (T_train <= frames per sample, class and channel counts, root set) are the builder's."""

    sequence: bool = True  # event data are [T, C, H, W] frame sequences
    frames_number: Optional[int] = rng(None, ge=1)  # null: T
    split_by: str = rng(MISSING, choices=DVS_SPLIT_BY)
    frame_duration_ms: Optional[float] = rng(None, gt=0.0)  # split_by=time: T frames of this length
    resize_mode: str = rng("bilinear", choices=RESIZE_MODES)
    temporal_delete: bool = MISSING
    # one set of kept frames per batch (the authors' released code) or per sample
    temporal_delete_per: str = rng("batch", choices=("batch", "sample"))
    T_train: Optional[int] = rng(None, ge=1)
    crop_padding: int = rng(
        MISSING, ge=0
    )  # training: RandomCrop(size, padding) shared by all frames; 0: none
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
    ("optim", "schema_sgd"): SGDOptimConfig,
    ("optim", "schema_adam"): AdamOptimConfig,
    ("sched", "schema"): SchedConfig,
    ("logger", "schema"): LoggerConfig,
    ("search", "schema"): SearchConfig,
    ("neuron", "schema"): NeuronConfig,
    ("surrogate", "schema"): SurrogateConfig,
    ("norm", "schema"): NormConfig,
    ("encoder", "schema"): EncoderConfig,
    ("block", "schema"): BlockConfig,
    ("model", "schema"): ModelConfig,
    ("data", "schema"): DataConfig,
    ("data", "schema_digits"): DigitsDataConfig,
    ("data", "schema_synthetic"): SyntheticDataConfig,
    ("data", "schema_cifar"): CIFARDataConfig,
    ("data", "schema_dvs"): DVSDataConfig,
    ("data", "schema_cifar10_dvs"): CIFAR10DVSDataConfig,
}


def register_schemas() -> None:
    """Store the schemas in Hydra's ConfigStore (once a process: a second store of the same nodes
    costs a fifth of a second of start-up and changes nothing)."""
    cs = ConfigStore.instance()
    if "train.yaml" in cs.repo.get("root", {}):
        return
    for name, node in ROOT_SCHEMAS.items():
        cs.store(group="root", name=name, node=node, package="_global_")
    for (group, name), node in SCHEMAS.items():
        cs.store(group=group, name=name, node=node)
