# Paper tables of TDBN (Zheng et al., AAAI 2021): launch the runs of a table as one Hydra multirun
# sweep, then print the table with the paper's numbers beside ours (`snnexp report`); Table 6 (the
# operation counts) runs `snnexp analyze energy` on trained checkpoints. Variables as make/tables.mk
# (DRY=1 prints the commands, SWEEP_DIR, DATA, ARGS), plus for Table 6:
#   CKPT_R19=<ResNet-19 CIFAR-10 T=6 checkpoint>  CKPT_R34L=<ResNet-34 (large) checkpoint>
# (without them the counts are of freshly initialised models: the ANN rows are exact, the SNN rows not).
#
#   make table-tdbn-1 DATA=/data ARGS=launcher=slurm    # Table 1: ResNet-19 CIFAR-10 T=2,4,6 + 3 ImageNet nets
#   make table-tdbn-2                                   # Table 2: ResNet-17 on DVS Gesture
#   make table-tdbn-3                                   # Table 3: ResNet-19 on DVS-CIFAR10
#   make table-tdbn-6 CKPT_R19=... CKPT_R34L=... DRY=1

CKPT_R19 ?=
CKPT_R34L ?=

# Table 1 as two sweeps (1-GPU CIFAR-10 runs, 8-GPU ImageNet runs) under one directory: the report
# finds the runs in both
TDBN_T1_CIFAR := tdbn/cifar10_t2,tdbn/cifar10_t4,tdbn/cifar10_t6
TDBN_T1_IMAGENET := tdbn/imagenet_resnet34,tdbn/imagenet_resnet34_large,tdbn/imagenet_resnet50
tdbn_ckpt = $(if $(1),ckpt=$(1),)

.PHONY: table-tdbn-1 table-tdbn-2 table-tdbn-3 table-tdbn-6

table-tdbn-1: TDBN_DIR := $(call sew_sweep_dir,tdbn-1)
table-tdbn-1: $(SEW_DEPS) ## TDBN Table 1: ResNet-19 CIFAR-10 T=2/4/6 (1 GPU), ResNet-34/34(large)/50 ImageNet T=6 (8 GPUs, sync-BN)
	$(SEW_RUN) $(BIN)/snnexp train -m experiment=$(TDBN_T1_CIFAR) hydra.sweep.dir=$(TDBN_DIR)/cifar10 $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp train -m experiment=$(TDBN_T1_IMAGENET) hydra.sweep.dir=$(TDBN_DIR)/imagenet $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp report $(TDBN_DIR) --table 1

table-tdbn-2: TDBN_DIR := $(call sew_sweep_dir,tdbn-2)
table-tdbn-2: $(SEW_DEPS) ## TDBN Table 2: DVS Gesture, ResNet-17, T=40 frames of 30 ms at 32x32
	$(SEW_RUN) $(BIN)/snnexp train -m experiment=tdbn/dvs_gesture hydra.sweep.dir=$(TDBN_DIR) $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp report $(TDBN_DIR) --table 2

table-tdbn-3: TDBN_DIR := $(call sew_sweep_dir,tdbn-3)
table-tdbn-3: $(SEW_DEPS) ## TDBN Table 3: DVS-CIFAR10, ResNet-19, T=10 frames of 5 ms at 42x42
	$(SEW_RUN) $(BIN)/snnexp train -m experiment=tdbn/cifar10_dvs hydra.sweep.dir=$(TDBN_DIR) $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp report $(TDBN_DIR) --table 3

table-tdbn-6: TDBN_DIR := $(call sew_sweep_dir,tdbn-6)
table-tdbn-6: $(SEW_DEPS) ## TDBN Table 6 / Fig. 6: additions and multiplications, SNN vs ANN, spikes per neuron (analyze energy)
	$(SEW_RUN) $(BIN)/snnexp analyze energy experiment=tdbn/cifar10_t6 $(call tdbn_ckpt,$(CKPT_R19)) out=$(TDBN_DIR)/resnet19 $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp analyze energy experiment=tdbn/imagenet_resnet34_large $(call tdbn_ckpt,$(CKPT_R34L)) out=$(TDBN_DIR)/resnet34_large $(SEW_DATA_ARG) $(ARGS)
