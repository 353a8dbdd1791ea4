"""What ``tfhf train`` and ``tfhf quickstart`` leave beside the model to look at: TensorBoard
logs (``logs/``) and the training curves (``training.png``).

During ``fit`` the logs are written to a temporary folder beside the output; when the model
is saved they move into the model's temporary folder before it is renamed, so the finished
folder appears at once with model, logs and picture, and a failed run leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile

LOGS, PICTURE = "logs", "training.png"


class RunVisuals:
    """TensorBoard callbacks and a :class:`~tfhf.training.plots.TrainingPlot` for one run."""

    def __init__(self, output, tensorboard=True, plot=True):
        from ..training.plots import matplotlib_available

        self.output = output
        self.tensorboard = tensorboard
        self.plot_wanted = plot
        self.can_plot = plot and matplotlib_available()
        self._tmp_logs = None
        self._plot = None
        self.logs_dir = self.picture = None

    def callbacks(self, validation_data=None, steps_per_epoch=None):
        """The Keras callbacks to pass to ``fit``."""
        cbs = []
        if self.tensorboard:
            from ..training.tensorboard import tensorboard_callbacks

            parent = os.path.dirname(os.path.abspath(self.output)) or "."
            os.makedirs(parent, exist_ok=True)
            self._tmp_logs = tempfile.mkdtemp(prefix=".tfhf-logs-", dir=parent)
            every = max(1, (steps_per_epoch or 0) // 500)  # at most ~500 points per epoch
            cbs += tensorboard_callbacks(self._tmp_logs, update_freq=every)
        if self.can_plot:
            from ..training.plots import TrainingPlot

            self._plot = TrainingPlot(None, validation_data=validation_data)
            cbs.append(self._plot)
        return cbs

    def write_into(self, folder):
        """Move the logs into ``folder`` and draw the picture there (before the rename)."""
        if self._tmp_logs is not None:
            shutil.move(self._tmp_logs, os.path.join(folder, LOGS))
            self._tmp_logs = None
            self.logs_dir = os.path.join(self.output, LOGS)
        if self._plot is not None and self._plot.steps:
            self._plot.save(os.path.join(folder, PICTURE))
            self.picture = os.path.join(self.output, PICTURE)

    def discard(self):
        """Remove the temporary logs (a run that failed, or that never reached the save)."""
        if self._tmp_logs is not None:
            shutil.rmtree(self._tmp_logs, ignore_errors=True)
            self._tmp_logs = None

    def report(self):
        """The lines the application prints at the end."""
        from ..training.plots import PLOT_HINT

        lines = []
        if self.picture:
            lines.append(f"training curves: {os.path.abspath(self.picture)}")
        elif self.plot_wanted and not self.can_plot:
            lines.append(f"training curves: not drawn, matplotlib is not installed "
                         f"({PLOT_HINT})")
        if self.logs_dir:
            from ..training.tensorboard import TENSORBOARD_HINT, tensorboard_available

            hint = "" if tensorboard_available() else f"  (viewer: {TENSORBOARD_HINT})"
            lines.append(f"TensorBoard logs: tensorboard --logdir "
                         f"{_quote(os.path.abspath(self.logs_dir))}{hint}")
        return lines


def _quote(path):
    import shlex

    return shlex.quote(path)
