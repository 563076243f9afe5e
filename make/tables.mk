# Paper tables of SEW (Fang et al. 2021): launch the runs of a table as one Hydra multirun sweep,
# then print the table with the paper's numbers beside ours (`snnexp report`).
#
#   make table-sew-dvs-gesture                          # Table 4 (and 5): 5 runs of 192 epochs
#   make table-sew-imagenet DATA=/data/imagenet ARGS=launcher=slurm
#   make table-sew-cifar10dvs SWEEP_DIR=outputs/tables/c10dvs   # a fixed dir: re-run just the report
#   make table-sew-surrogates DRY=1                     # print the commands, run nothing
#
# Variables: DRY=1 prints the commands only; SWEEP_DIR (default outputs/tables/<table>/<date>/<time>)
# is where the runs of ONE table go (hydra.sweep.dir; jobs are numbered 0, 1, ... in it, so give each
# table its own) and where the report looks and writes table_<id>.md/.csv; DATA is the data
# set's root (data.root=...; or export SNNEXP_DATA=<dir holding imagenet/, dvs_gesture/, ...>);
# ARGS adds overrides to every run (launcher=slurm, trainer.num_workers=8, logger=csv, ...).
# Included by the main Makefile, which defines BIN (the venv's bin/) and STAMP (its install stamp).

BIN ?= .venv/bin
DRY ?=
DATA ?=
ARGS ?=
SWEEP_DIR ?=

SNNEXP_TABLES_TIME := $(shell date +%Y-%m-%d/%H-%M-%S)
# $(call sew_sweep_dir,<name>): SWEEP_DIR if given, else a fresh directory per launch
sew_sweep_dir = $(if $(SWEEP_DIR),$(SWEEP_DIR),outputs/tables/$(1)/$(SNNEXP_TABLES_TIME))
# DRY=1 prints the commands, and before each `snnexp train`/`tune` its runs and their estimated time
# on this machine (snnexp/dryrun.py: a measured probe step; ESTIMATE=0: the commands only)
ESTIMATE ?= 1
SNNEXP_DRY ?= $(if $(and $(filter 1,$(ESTIMATE)),$(wildcard $(BIN)/python)),@$(BIN)/python -m snnexp.dryrun,@echo)
SEW_RUN := $(if $(DRY),$(SNNEXP_DRY),)
SEW_DEPS := $(if $(DRY),,$(STAMP))
SEW_DATA_ARG := $(if $(DATA),data.root=$(DATA),)

# each experiment's sweep axes (depths, blocks, surrogates) are in its YAML (hydra.sweeper.params);
# Table 6's three settings are three experiment files, swept here
SEW_C10DVS_EXPERIMENTS := sew/cifar10dvs_t4,sew/cifar10dvs_t8,sew/cifar10dvs_t16

.PHONY: table-sew-imagenet table-sew-dvs-gesture table-sew-cifar10dvs table-sew-surrogates

table-sew-imagenet: SEW_DIR := $(call sew_sweep_dir,sew-imagenet)
table-sew-imagenet: $(SEW_DEPS) ## SEW Tables 2+3: ImageNet, SEW ADD vs Spiking ResNet-18..152 (10 runs x 320 epochs; 8 GPUs each)
	$(SEW_RUN) $(BIN)/snnexp train -m experiment=sew/imagenet hydra.sweep.dir=$(SEW_DIR) $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp report $(SEW_DIR)

table-sew-dvs-gesture: SEW_DIR := $(call sew_sweep_dir,sew-dvs-gesture)
table-sew-dvs-gesture: $(SEW_DEPS) ## SEW Tables 4+5: DVS Gesture 7B-Net, every block type with its Table S2 lr (5 runs x 192 epochs)
	$(SEW_RUN) $(BIN)/snnexp train -m experiment=sew/dvs_gesture_table4 hydra.sweep.dir=$(SEW_DIR) $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp report $(SEW_DIR)

table-sew-cifar10dvs: SEW_DIR := $(call sew_sweep_dir,sew-cifar10dvs)
table-sew-cifar10dvs: $(SEW_DEPS) ## SEW Table 6: CIFAR10-DVS Wide-7B-Net at T=4, 8, 16 (3 runs x 64 epochs)
	$(SEW_RUN) $(BIN)/snnexp train -m experiment=$(SEW_C10DVS_EXPERIMENTS) hydra.sweep.dir=$(SEW_DIR) $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp report $(SEW_DIR) --table 6

table-sew-surrogates: SEW_DIR := $(call sew_sweep_dir,sew-surrogates)
table-sew-surrogates: $(SEW_DEPS) ## SEW Table S3: CIFAR-10, ArcTan/Rectangular/Constant-1 x SEW ADD/Spiking ResNet (6 runs)
	$(SEW_RUN) $(BIN)/snnexp train -m experiment=sew/cifar10_surrogates hydra.sweep.dir=$(SEW_DIR) $(SEW_DATA_ARG) $(ARGS)
	$(SEW_RUN) $(BIN)/snnexp report $(SEW_DIR) --table S3
