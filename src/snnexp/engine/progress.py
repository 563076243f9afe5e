"""Training progress on the console: a tqdm bar on a terminal; plain lines every N steps when
stderr is a file or a pipe (a log, a SLURM job, a joblib sweep), where carriage-return updates
would pile up into one unreadable line (timm prints every ``log_interval`` steps the same way)."""

from __future__ import annotations

import sys
import time


class PlainLines:
    def __init__(self, total_steps: int, desc: str, every: int, images_per_step: int, start: int = 0):
        self.total, self.desc, self.every, self.ips = total_steps, desc, max(1, every), images_per_step
        self.done, self.t0 = start, time.time()
        self.n = 0

    def step(self, loss: float, lr: float) -> None:
        self.done += 1
        self.n += 1
        if self.done % self.every == 0 or self.done == self.total:
            rate = self.n * self.ips / max(time.time() - self.t0, 1e-9)
            print(
                f"{self.desc}  step {self.done}/{self.total}  loss {loss:.4f}  lr {lr:.3g}  {rate:.0f} img/s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        pass


class Bar:
    def __init__(self, total_steps: int, desc: str, images_per_step: int, start: int = 0):
        from tqdm.auto import tqdm

        self.ips = images_per_step
        self.bar = tqdm(
            total=(total_steps - start) * images_per_step,
            desc=desc,
            unit="img",
            unit_scale=True,
            dynamic_ncols=True,
            file=sys.stderr,
            mininterval=0.5,
        )

    def step(self, loss: float, lr: float) -> None:
        self.bar.update(self.ips)
        self.bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.3g}", refresh=False)

    def close(self) -> None:
        self.bar.close()


def train_progress(total_steps: int, desc: str, every: int, images_per_step: int, start: int = 0):
    if sys.stderr.isatty():
        return Bar(total_steps, desc, images_per_step, start)
    return PlainLines(total_steps, desc, every, images_per_step, start)
