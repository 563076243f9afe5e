"""The `snnexp` command end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import FAST, run_cli


def test_train_eval_summary_list_end_to_end(tmp_path):
    run = tmp_path / "run"
    p = run_cli("train", *FAST, f"hydra.run.dir={run}", cwd=tmp_path, check=True)
    assert "done: best test acc1" in p.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert (run / ".hydra/config.yaml").is_file() and (run / ".hydra/overrides.yaml").is_file()

    # eval: the checkpoint's own config; --json prints machine-readable metrics
    p = run_cli("eval", f"ckpt={run}/checkpoints/last.pt", "--json", cwd=tmp_path, check=True)
    ev = json.loads(p.stdout[p.stdout.index("{") :])
    assert ev["acc1"] == metrics["last_acc1"] and ev["split"] == "test" and ev["T"] == 2
    assert (run / "eval/test_T2.json").is_file()
    # fewer time steps at inference than in training (KEYS Tables 16/17)
    p = run_cli("eval", f"ckpt={run}/checkpoints/last.pt", "T=1", cwd=tmp_path, check=True)
    assert "T=1" in p.stdout and (run / "eval/test_T1.json").is_file()

    # fold the BNs into the convs (TDBN Eq. 9-10): same accuracy from the BN-free checkpoint
    p = run_cli("fold", f"ckpt={run}/checkpoints/last.pt", "--json", cwd=tmp_path, check=True)
    fold = json.loads(p.stdout[p.stdout.index("{") :])
    assert fold["norms_left"] == 0 and fold["max_abs_diff"] < 1e-4
    p = run_cli("eval", f"ckpt={fold['out']}", "--json", f"out={tmp_path}/f.json", cwd=tmp_path, check=True)
    assert json.loads(p.stdout[p.stdout.index("{") :])["acc1"] == metrics["last_acc1"]

    p = run_cli("summary", *FAST, "--json", cwd=tmp_path, check=True)
    info = json.loads(p.stdout)
    assert info["params"] == metrics["params"] and info["layers"][0]["name"] == "encoder"
    assert any(r["type"] == "IFNode" for r in info["layers"])
    assert not list(tmp_path.glob("*.log"))  # summary/eval leave no files in the cwd

    p = run_cli("list", "neurons", "models", cwd=tmp_path, check=True)
    assert "if " in p.stdout and "sew_mini" in p.stdout


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_multirun_sweep_gets_one_dir_per_job(tmp_path):
    sweep = tmp_path / "sweep"
    run_cli(
        "train",
        "-m",
        *FAST,
        "trainer.epochs=1",
        "block=sew_add,plain",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        check=True,
    )
    jobs = sorted(p.parent.name for p in sweep.glob("*/metrics.json"))
    assert (
        jobs == ["block=plain", "block=sew_add"] and (sweep / "multirun.yaml").is_file()
    )  # what each varies


def test_help_cfg_and_list_do_not_import_torch(tmp_path):
    code = (
        "import sys\nfrom snnexp.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\nprint('NO_TORCH')"
    )
    for args in (["--help"], ["train", "--cfg", "job"], ["list"], ["train", "--help"]):
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path)
        assert "NO_TORCH" in p.stdout, (args, p.stderr[-500:])
    p = subprocess.run(
        [sys.executable, "-m", "snnexp.cli", "train", "--cfg", "job", "T=7"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "T: 7" in p.stdout


def test_report_does_not_import_torch(tmp_path):
    """`snnexp report` runs where no training does (a laptop with the run directories copied over)."""
    from snnexp.runfiles import write_metrics, write_summary

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    cfg = (
        "experiment_name: sew/dvs_gesture_table4\npaper: SEW\nblock: {name: sew_add}\ntrainer: {epochs: 1}\n"
    )
    (run / "config.yaml").write_text(cfg)
    (run / ".hydra" / "overrides.yaml").write_text("- experiment=sew/dvs_gesture_table4\n")
    write_summary(run, [{"epoch": 1, "test_acc1": 91.5, "test_acc5": 99.0, "best_acc1": 91.5}])
    write_metrics(run, {"status": "finished", "epochs_done": 1, "params": 130_000})
    code = (
        "import sys\nfrom snnexp.cli import main\nrc = main(sys.argv[1:])\n"
        "assert 'torch' not in sys.modules, 'torch imported'\nprint('NO_TORCH', rc)"
    )
    p = subprocess.run([sys.executable, "-c", code, "report", str(run)], capture_output=True, text=True)
    assert "NO_TORCH 0" in p.stdout, p.stderr[-500:]
    assert "| SEW ResNet | ADD | 97.92 | 91.50 | 91.50 | finished 1/1 ep |" in p.stdout
    assert (run / "table_4.md").is_file()


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_two_runs_started_together_get_different_dirs(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "snnexp.cli", "train", *FAST, "trainer.epochs=1"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    assert len(list((tmp_path / "outputs/runs").glob("*/*/metrics.json"))) == 2


@pytest.mark.slow  # run by `make test-all` (keeps `make test` near 6 min on 2 cores)
def test_user_config_dir_adds_options(tmp_path):
    extra = tmp_path / "myconf/model"
    extra.mkdir(parents=True)
    (extra / "tiny.yaml").write_text("# my tiny model\ndefaults: [sew_mini, _self_]\nwidth: 4\n")
    p = run_cli(
        "summary", "--config-dir", str(tmp_path / "myconf"), "model=tiny", "--json", cwd=tmp_path, check=True
    )
    assert json.loads(p.stdout)["params"] < 5000


@pytest.mark.parametrize(
    "args,expect",
    [
        (
            ["claims", "--jobs", "0"],
            "argument --jobs: '0' is not a whole number >= 1 (see snnexp claims --help)",
        ),
        (["runs", "--bogus"], "unrecognized arguments: --bogus (see snnexp runs --help)"),
        (["report"], "the following arguments are required: DIR (see snnexp report --help)"),
    ],
)
def test_a_bad_argument_of_a_plain_command_is_one_line_and_exit_2(args, expect):
    code = "import sys\nfrom snnexp.cli import main\nsys.exit(main(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_FULL_ERROR")}  # a user's plain shell
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stderr == f"snnexp: error: {expect}\n", p.stderr


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`snnexp list | head -0`: the reader is gone before the first line; no BrokenPipe
    traceback or error line, exit 0."""
    from conftest import SNNEXP

    p = subprocess.Popen([*SNNEXP, "list"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0 and err == "", err
