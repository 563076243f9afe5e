# Paper tables of KEYS (Vicente-Sola et al.): launch the runs of a table, then print it with the paper's
# numbers beside ours (`snnexp report --paper keys`). KEYS reports the TEST accuracy after the last
# epoch ("ours last"); Table 14 is the validation maximum ("ours max": make table-keys-14, or the
# same settings' runs of Tables 6/7/13).
#
#   make table-keys-2                              # Table 2: 3 residual types x CIFAR-10/100 (6 runs x 70 epochs)
#   make table-keys-11 PRETRAIN_DIR=outputs/tables/keys-11/<date>/<time>/pretrain   # reuse CIFAR-100 weights
#   make table-keys-16 DRY=1                       # print the commands, run nothing
#
# Variables: DRY=1 prints the commands only; SWEEP_DIR (default outputs/tables/keys-<n>/<date>/<time>)
# holds every run of ONE table (sub-directories per step) and its report; DATA is the directory that
# holds cifar10/, cifar100/, cifar10_dvs/ (paths.data_root=...; or export SNNEXP_DATA); ARGS adds
# overrides to every run (launcher=slurm, trainer.num_workers=8, logger=csv, ...). Tables 11-13 first
# pre-train on CIFAR-100 unless PRETRAIN_DIR names the directory of an earlier target's pretrain/ runs.
# A table's sweep axes (model=..., block=...) are in its experiment's YAML (hydra.sweeper.params):
# `-m experiment=keys/table3` runs them; a target spells only what the YAML cannot know (directories,
# the pre-trained checkpoint). Runs whose checkpoints later steps read by path (Tables 11, 12, 16,
# 17, Fig. 3) are single runs with their own hydra.run.dir.

BIN ?= .venv/bin
DRY ?=
DATA ?=
ARGS ?=
SWEEP_DIR ?=
PRETRAIN_DIR ?=

KEYS_TIME := $(shell date +%Y-%m-%d/%H-%M-%S)
comma := ,
keys_dir = $(if $(SWEEP_DIR),$(SWEEP_DIR),outputs/tables/keys-$(1)/$(KEYS_TIME))
# DRY=1 prints the commands, and before each `snnexp train`/`tune` its runs and their estimated time
# on this machine (snnexp/dryrun.py: a measured probe step; ESTIMATE=0: the commands only)
ESTIMATE ?= 1
SNNEXP_DRY ?= $(if $(and $(filter 1,$(ESTIMATE)),$(wildcard $(BIN)/python)),@$(BIN)/python -m snnexp.dryrun,@echo)
KEYS_RUN := $(if $(DRY),$(SNNEXP_DRY),)
KEYS_DEPS := $(if $(DRY),,$(STAMP))
KEYS_ARGS := $(if $(DATA),paths.data_root=$(DATA),) $(ARGS)
KEYS_TRAIN := $(KEYS_RUN) $(BIN)/snnexp train
KEYS_EVAL := $(KEYS_RUN) $(BIN)/snnexp eval
KEYS_REPORT := $(KEYS_RUN) $(BIN)/snnexp report --paper keys
# $(call keys_pre,<dir>): where the CIFAR-100 pre-training runs are (PRETRAIN_DIR, else <dir>/pretrain)
keys_pre = $(if $(PRETRAIN_DIR),$(PRETRAIN_DIR),$(1)/pretrain)
# $(call keys_pretrain,<dir>,<width>,<readout>): a CIFAR-100 run of Table 6's setting, unless PRETRAIN_DIR
keys_pretrain = $(if $(PRETRAIN_DIR),,$(KEYS_TRAIN) experiment=keys/table6 model.base_width=$(2) model.readout=$(3) hydra.run.dir=$(1)/pretrain/w$(2)_$(3) $(KEYS_ARGS))

KEYS_TABLES := 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17
.PHONY: $(addprefix table-keys-,$(KEYS_TABLES)) figure-keys-3
KEYS_FIG3_RUNS := vgg11 s2m s2s v2v
KEYS_TEST_BATCHES := 477   # the CIFAR-100 test set (10,000 images) in batches of 21: Fig. 3 averages over all

table-keys-2: D := $(call keys_dir,2)
table-keys-2: $(KEYS_DEPS) ## KEYS Table 2: S2M/S2S/V2V, S-ResNet38 wider, CIFAR-10 and CIFAR-100 (6 runs x 70 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table2_cifar10 hydra.sweep.dir=$(D)/cifar10 $(KEYS_ARGS)
	$(KEYS_TRAIN) -m experiment=keys/table2_cifar100 hydra.sweep.dir=$(D)/cifar100 $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 2

table-keys-3: D := $(call keys_dir,3)
table-keys-3: $(KEYS_DEPS) ## KEYS Table 3: S-ResNet20/38/44 on CIFAR-10 (3 runs x 70 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table3 hydra.sweep.dir=$(D) $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 3

table-keys-4: D := $(call keys_dir,4)
table-keys-4: $(KEYS_DEPS) ## KEYS Table 4: Poisson vs raw image on CIFAR-100 (2 runs x 100 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table4 hydra.sweep.dir=$(D) $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 4

table-keys-5: D := $(call keys_dir,5)
table-keys-5: $(KEYS_DEPS) ## KEYS Table 5: BNTT vs BN on CIFAR-100 (2 runs x 70 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table5 hydra.sweep.dir=$(D) $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 5

table-keys-6: D := $(call keys_dir,6)
table-keys-6: $(KEYS_DEPS) ## KEYS Table 6: 16/32 filters x boosting on/off, CIFAR-100 (2 x 200 + 2 x 70 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table6 hydra.sweep.dir=$(D) $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 6

table-keys-7: D := $(call keys_dir,7)
table-keys-7: $(KEYS_DEPS) ## KEYS Table 7: 16/32 filters x boosting on/off, CIFAR-10 (2 x 200 + 2 x 70 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table7 hydra.sweep.dir=$(D) $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 7

table-keys-8: D := $(call keys_dir,8)
table-keys-8: $(KEYS_DEPS) ## KEYS Table 8: fixed leak vs PLIF per layer, CIFAR-100 (2 runs x 200 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table8 hydra.sweep.dir=$(D) $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 8

table-keys-9: D := $(call keys_dir,9)
table-keys-9: $(KEYS_DEPS) ## KEYS Table 9: TPE + Hyperband search of leak, T, lr (snnexp tune; resumable) and one learned leak
	$(KEYS_RUN) $(BIN)/snnexp tune experiment=keys/table9_search search=keys_table9 hydra.run.dir=$(D)/search $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table10 neuron.learn_leak=true hydra.run.dir=$(D)/single_plif $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 9

table-keys-10: D := $(call keys_dir,10)
table-keys-10: $(KEYS_DEPS) ## KEYS Table 10: fixed leak vs one learned leak, wider + boosting, CIFAR-100 (2 runs x 70 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table10 hydra.sweep.dir=$(D) $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 10

table-keys-11: D := $(call keys_dir,11)
table-keys-11: $(KEYS_DEPS) ## KEYS Table 11: DVS-CIFAR10 from scratch and fine-tuned from CIFAR-100 (2 pre-training + 4 runs)
	$(call keys_pretrain,$(D),16,integrate)
	$(call keys_pretrain,$(D),32,voting)
	$(KEYS_TRAIN) -m experiment=keys/table11 hydra.sweep.dir=$(D)/scratch $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table11_finetune model.base_width=16 init.from=$(call keys_pre,$(D))/w16_integrate/checkpoints/last.pt hydra.run.dir=$(D)/finetune/w16 $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table11_finetune model.base_width=32 init.from=$(call keys_pre,$(D))/w32_voting/checkpoints/last.pt hydra.run.dir=$(D)/finetune/w32 $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 11

table-keys-12: D := $(call keys_dir,12)
table-keys-12: $(KEYS_DEPS) ## KEYS Table 12: CIFAR-10 from scratch and fine-tuned from CIFAR-100 (2 pre-training + 4 runs)
	$(call keys_pretrain,$(D),16,integrate)
	$(call keys_pretrain,$(D),32,voting)
	$(KEYS_TRAIN) -m experiment=keys/table12 hydra.sweep.dir=$(D)/scratch $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table12_finetune model.base_width=16 init.from=$(call keys_pre,$(D))/w16_integrate/checkpoints/last.pt hydra.run.dir=$(D)/finetune/w16 $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table12_finetune model.base_width=32 init.from=$(call keys_pre,$(D))/w32_voting/checkpoints/last.pt hydra.run.dir=$(D)/finetune/w32 $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 12

table-keys-13: D := $(call keys_dir,13)
table-keys-13: $(KEYS_DEPS) ## KEYS Table 13: DVS-CIFAR10 at 32/64/128 px, fine-tuned from CIFAR-100 (1 pre-training + 3 runs)
	$(call keys_pretrain,$(D),32,integrate)
	$(KEYS_TRAIN) -m experiment=keys/table13 init.from=$(call keys_pre,$(D))/w32_integrate/checkpoints/last.pt hydra.sweep.dir=$(D)/finetune $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 13

table-keys-14: D := $(call keys_dir,14)
table-keys-14: $(KEYS_DEPS) ## KEYS Table 14: our three rows, max test accuracy over epochs: CIFAR-10/100 wider + boosting, DVS 64 px fine-tuned (1 pre-training + 3 runs)
	$(call keys_pretrain,$(D),32,integrate)
	$(KEYS_TRAIN) experiment=keys/table14_cifar10 hydra.run.dir=$(D)/cifar10 $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table14_cifar100 hydra.run.dir=$(D)/cifar100 $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table14_dvs init.from=$(call keys_pre,$(D))/w32_integrate/checkpoints/last.pt hydra.run.dir=$(D)/dvs $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 14

table-keys-15: D := $(call keys_dir,15)
table-keys-15: $(KEYS_DEPS) ## KEYS Table 15: ANN ResNet38 vs S-ResNet38, 16 and 32 filters, CIFAR-10 (4 runs x 70 epochs)
	$(KEYS_TRAIN) -m experiment=keys/table15 hydra.sweep.dir=$(D)/snn $(KEYS_ARGS)
	$(KEYS_TRAIN) -m experiment=keys/table15_ann hydra.sweep.dir=$(D)/ann $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 15

table-keys-16: D := $(call keys_dir,16)
table-keys-16: $(KEYS_DEPS) ## KEYS Table 16: train with T=50 and T=20 (CIFAR-10/100), evaluate at T'=50..10 (4 runs x 70 epochs)
	$(KEYS_TRAIN) experiment=keys/table16_cifar10 T=50 hydra.run.dir=$(D)/cifar10_T50 $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table16_cifar10 T=20 hydra.run.dir=$(D)/cifar10_T20 $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table16_cifar100 T=50 hydra.run.dir=$(D)/cifar100_T50 $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table16_cifar100 T=20 hydra.run.dir=$(D)/cifar100_T20 $(KEYS_ARGS)
	$(KEYS_EVAL) ckpt=$(D)/cifar10_T50/checkpoints/last.pt T=50,40,30,20,10 $(KEYS_ARGS)
	$(KEYS_EVAL) ckpt=$(D)/cifar10_T20/checkpoints/last.pt T=20,10 $(KEYS_ARGS)
	$(KEYS_EVAL) ckpt=$(D)/cifar100_T50/checkpoints/last.pt T=50,40,30,20,10 $(KEYS_ARGS)
	$(KEYS_EVAL) ckpt=$(D)/cifar100_T20/checkpoints/last.pt T=20,10 $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 16

table-keys-17: D := $(call keys_dir,17)
table-keys-17: $(KEYS_DEPS) ## KEYS Table 17: CIFAR-10, 20 inference steps: trained with 50 / 20 steps, fixed or learned leak (3 runs x 70 epochs)
	$(KEYS_TRAIN) experiment=keys/table16_cifar10 T=50 hydra.run.dir=$(D)/T50 $(KEYS_ARGS)
	$(KEYS_EVAL) ckpt=$(D)/T50/checkpoints/last.pt T=20 $(KEYS_ARGS)
	$(KEYS_TRAIN) -m experiment=keys/table17 hydra.sweep.dir=$(D)/T20 $(KEYS_ARGS)
	$(KEYS_REPORT) $(D) --table 17

figure-keys-3: D := $(call keys_dir,fig3)
figure-keys-3: $(KEYS_DEPS) ## KEYS Fig. 3: activation maps and BNTT gamma of VGG11 and S-ResNet38 S2M/S2S/V2V on CIFAR-100 (4 runs x 70 epochs)
	$(KEYS_TRAIN) experiment=keys/fig3_vgg11 hydra.run.dir=$(D)/vgg11 $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table2_cifar100 block=keys_s2m hydra.run.dir=$(D)/s2m $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table2_cifar100 block=keys_s2s hydra.run.dir=$(D)/s2s $(KEYS_ARGS)
	$(KEYS_TRAIN) experiment=keys/table2_cifar100 block=keys_v2v hydra.run.dir=$(D)/v2v $(KEYS_ARGS)
	$(KEYS_RUN) $(BIN)/snnexp analyze activity compare_ckpts=[$(subst $(eval) ,$(comma),$(foreach r,$(KEYS_FIG3_RUNS),$(D)/$(r)/checkpoints/last.pt))] batches=$(KEYS_TEST_BATCHES) out=$(D) $(KEYS_ARGS)
