"""Stopping a run where it can stop: SIGTERM (preemption) and SIGINT (Ctrl-C), noted from the start of
`train.train` and answered at the end of the current dispatch (see `Preemption`)."""

from __future__ import annotations

import os
import signal
import threading

import jax
from absl import logging

from jaxgan import errors


class Preemption:
    """Whether the run was asked to stop, and by which signal: SIGTERM (preemption) or SIGINT (Ctrl-C).

    In a single process, handlers of our own note the signal; the loop saves at the end of the current
    step and stops. A second Ctrl-C stops at once without saving (the latest complete checkpoint stays;
    orbax never lists a save it did not finish). SIGINT is left alone where it is ignored (a background
    job of a script). In a multi-process run, JAX's preemption sync point stops all processes at the
    same step; a Ctrl-C is passed to it as SIGTERM.
    """

    EXIT_CODES = {'SIGTERM': 0, 'SIGINT': 130}

    def __init__(self):
        self.requested: str | None = None
        self._multi = jax.process_count() > 1
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            signals = [signal.SIGINT] if self._multi else [signal.SIGTERM, signal.SIGINT]
            for signum in signals:
                if signum == signal.SIGINT and signal.getsignal(signum) is signal.SIG_IGN:
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        del frame
        name = signal.Signals(signum).name
        if name == 'SIGINT' and self.requested == 'SIGINT':
            os.write(2, b'\nstopped at once by a second Ctrl-C, without saving; the latest complete checkpoint '
                        b'stays\n')
            os._exit(130)
        if name == 'SIGINT':
            os.write(2, b'\ninterrupted (SIGINT): saving a checkpoint at the end of the current step, then '
                        b'exiting; Ctrl-C again stops at once, without saving\n')
        self.requested = self.requested or name
        if self._multi:  # JAX's preemption notifier listens for SIGTERM: all processes stop together
            os.kill(os.getpid(), signal.SIGTERM)

    def reached(self, dispatch: int) -> bool:
        if self._multi:
            from jax.experimental import multihost_utils
            if multihost_utils.reached_preemption_sync_point(dispatch):
                self.requested = self.requested or 'SIGTERM'
                return True
            return False
        return self.requested is not None

    def before_training(self) -> None:
        """Stops a single-process run signalled while it was getting ready: nothing new to save."""
        if self.requested and not self._multi:
            message = f'{self.requested} before training started: nothing new to save; exiting'
            logging.warning(message)
            raise errors.Stopped(message, self.EXIT_CODES[self.requested])

    def stop(self, step: int) -> errors.Stopped:
        """What to raise once the checkpoint of `step` is saved; logs it."""
        what = 'preempted' if self.requested == 'SIGTERM' else 'interrupted'
        message = f'{what} ({self.requested}): saved the checkpoint of step {step}; exiting'
        logging.warning(message)
        return errors.Stopped(message, self.EXIT_CODES[self.requested])

    def close(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
