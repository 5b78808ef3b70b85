"""Where scalars and images go: the console, TensorBoard event files and a JSONL log.

Only process 0 writes files. <workdir>/metrics.jsonl gets one JSON object per logged step
({"step": ..., "d_loss": ..., ...}); it is opened for appending, so a resumed run adds to it.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np


class Writer:
    def __init__(self, workdir: str, *, enabled: bool = True):
        self.enabled = enabled
        self._tb = self._jsonl = None
        if enabled:
            from tensorboardX import SummaryWriter
            os.makedirs(workdir, exist_ok=True)
            self._tb = SummaryWriter(os.path.join(workdir, 'tensorboard'), flush_secs=30)
            self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a', encoding='utf-8')

    def scalars(self, step: int, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        for name, value in scalars.items():
            self._tb.add_scalar(name, value, step)
        row = {'step': step, **{k: (v if math.isfinite(v) else str(v)) for k, v in scalars.items()}}
        self._jsonl.write(json.dumps(row) + '\n')
        self._jsonl.flush()

    def image(self, step: int, name: str, image_HWC: np.ndarray) -> None:
        if self.enabled:
            self._tb.add_image(name, image_HWC, step, dataformats='HWC')

    def flush(self) -> None:
        if self.enabled:
            self._tb.flush()
            self._jsonl.flush()

    def close(self) -> None:
        if self.enabled:
            self._tb.close()
            self._jsonl.close()
            self.enabled = False


def progress_line(step: int, num_steps: int, scalars: dict[str, float]) -> str:
    shown = ' '.join(f'{k} {scalars[k]:.4g}' for k in ('d_loss', 'g_loss', 'd_real_prob', 'd_fake_prob')
                     if k in scalars)
    line = f'step {step}/{num_steps} | {shown}'
    if 'steps_per_s' in scalars:
        line += f' | {scalars["steps_per_s"]:.2f} steps/s, {scalars["images_per_s"]:.0f} img/s'
    return line

