# Paper tables of DSR (Meng et al. 2022): launch the runs of a table as Hydra multirun sweeps, then
# print it with the paper's numbers beside ours (`snnexp report`; mean ± std over seeds where the
# paper reports 3 runs).
#
#   make table-dsr-main DATA=/data        # Table 2: CIFAR-10/100, DVS-CIFAR10 (IF, LIF) x 3 seeds, ImageNet hybrid
#   make table-dsr-ablation               # Table 3: 5 settings x 3 seeds
#   make table-dsr-latency                # Fig. 3a: T=5,10,15,20 x IF/LIF x 3 seeds
#   make table-dsr-depth                  # Fig. 3b: narrow PreAct-ResNet-20..110 x IF/LIF
#   make table-dsr-main DRY=1             # print the commands, run nothing
#
# Variables as make/tables.mk: DRY=1, SWEEP_DIR (one directory per table), ARGS; DATA is the
# directory holding cifar10/, cifar100/, cifar10_dvs/, imagenet/ (paths.data_root; or SNNEXP_DATA).

BIN ?= .venv/bin
DRY ?=
DATA ?=
ARGS ?=
SWEEP_DIR ?=

DSR_TIME := $(shell date +%Y-%m-%d/%H-%M-%S)
dsr_sweep_dir = $(if $(SWEEP_DIR),$(SWEEP_DIR),outputs/tables/$(1)/$(DSR_TIME))
# DRY=1 prints the commands, and before each `snnexp train`/`tune` its runs and their estimated time
# on this machine (snnexp/dryrun.py: a measured probe step; ESTIMATE=0: the commands only)
ESTIMATE ?= 1
SNNEXP_DRY ?= $(if $(and $(filter 1,$(ESTIMATE)),$(wildcard $(BIN)/python)),@$(BIN)/python -m snnexp.dryrun,@echo)
DSR_RUN := $(if $(DRY),$(SNNEXP_DRY),)
DSR_DEPS := $(if $(DRY),,$(STAMP))
DSR_DATA_ARG := $(if $(DATA),paths.data_root=$(DATA),)

# Each experiment's axes (its 3 seeds; Fig. 3a's T, Fig. 3b's depths and neurons) are in its YAML
# (hydra.sweeper.params). Hydra's basic sweeper reads them only from the config it composes before
# the sweep, so a sweep over experiments (experiment=a,b) would drop them: one sweep per experiment,
# each in <dir>/<its file name>, where `snnexp report <dir>` finds them all.
DSR_MAIN := dsr/cifar10_if dsr/cifar10_lif dsr/cifar100_if dsr/cifar100_lif dsr/dvs_cifar10_if dsr/dvs_cifar10_lif
DSR_ANN := dsr/cifar10_ann dsr/cifar100_ann
DSR_ABLATION := dsr/cifar10_if dsr/ablation_no_f dsr/ablation_no_t_vth6 dsr/ablation_no_t_vth2 dsr/ablation_no_ft
DSR_LATENCY := dsr/latency_if dsr/latency_lif dsr/latency_t5_if dsr/latency_t5_lif

# $(call dsr_sweeps,<experiments>,<dir>): the recipe lines, one `snnexp train -m` per experiment
define dsr_sweep
$(DSR_RUN) $(BIN)/snnexp train -m experiment=$(1) hydra.sweep.dir=$(2)/$(notdir $(1)) $(DSR_DATA_ARG) $(ARGS)

endef
dsr_sweeps = $(foreach e,$(1),$(call dsr_sweep,$(e),$(2)))

.PHONY: table-dsr-main table-dsr-ablation table-dsr-latency table-dsr-depth

table-dsr-main: DSR_DIR := $(call dsr_sweep_dir,dsr-main)
table-dsr-main: $(DSR_DEPS) ## DSR Table 2: CIFAR-10/100 + DVS-CIFAR10, IF and LIF, 3 seeds; the CIFAR ANNs; ImageNet hybrid (ANN, then DSR T=50)
	$(call dsr_sweeps,$(DSR_MAIN),$(DSR_DIR)/runs)
	$(call dsr_sweeps,$(DSR_ANN),$(DSR_DIR)/ann)
	$(DSR_RUN) $(BIN)/snnexp train experiment=dsr/imagenet_ann hydra.run.dir=$(DSR_DIR)/imagenet_ann $(DSR_DATA_ARG) $(ARGS)
	$(DSR_RUN) $(BIN)/snnexp train experiment=dsr/imagenet_if init.from=$(DSR_DIR)/imagenet_ann/checkpoints/last.pt hydra.run.dir=$(DSR_DIR)/imagenet_if $(DSR_DATA_ARG) $(ARGS)
	$(DSR_RUN) $(BIN)/snnexp report $(DSR_DIR) --table 2

table-dsr-ablation: DSR_DIR := $(call dsr_sweep_dir,dsr-ablation)
table-dsr-ablation: $(DSR_DEPS) ## DSR Table 3: firing modification (F) and threshold training (T) ablation, 5 settings x 3 seeds
	$(call dsr_sweeps,$(DSR_ABLATION),$(DSR_DIR))
	$(DSR_RUN) $(BIN)/snnexp report $(DSR_DIR) --table 3

table-dsr-latency: DSR_DIR := $(call dsr_sweep_dir,dsr-latency)
table-dsr-latency: $(DSR_DEPS) ## DSR Fig. 3a: T=5,10,15,20, IF and LIF, 3 seeds (T=5 with its own lr and LIF constants)
	$(call dsr_sweeps,$(DSR_LATENCY),$(DSR_DIR))
	$(DSR_RUN) $(BIN)/snnexp report $(DSR_DIR) --table 3a

table-dsr-depth: DSR_DIR := $(call dsr_sweep_dir,dsr-depth)
table-dsr-depth: $(DSR_DEPS) ## DSR Fig. 3b: narrow PreAct-ResNet-20/32/44/56/110, IF and LIF, T=20
	$(DSR_RUN) $(BIN)/snnexp train -m experiment=dsr/depth hydra.sweep.dir=$(DSR_DIR) $(DSR_DATA_ARG) $(ARGS)
	$(DSR_RUN) $(BIN)/snnexp report $(DSR_DIR) --table 3b
