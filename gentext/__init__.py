"""gentext: the helpers that the chapters of the book share.

The chapters import it as ``import gentext as gt`` and use:

* ``gt.setup``: seeds, device and profile, printed in one line (:mod:`gentext.env`);
* ``gt.use_drive``: in Colab, keep results, data and caches on Google Drive;
* ``gt.timer``, ``gt.per_thousand``: GPU-correct timings (:mod:`gentext.timing`);
* ``gt.budget``, ``gt.full_settings``: what a chapter's full profile costs, counted on a CPU;
* ``gt.data``: the digits split, MNIST, 2-D toy sets and loaders;
* ``gt.fit``: the training loop with validation, early stopping and checkpoints;
* ``gt.batched``: a function over a data set in bounded batches on the device;
* ``gt.plot``: figures in the book's style;
* ``gt.metrics``: likelihood units and the classifier-feature Frechet distance;
* ``gt.likelihood``: discrete likelihoods, Gaussian KL, IWAE, baselines (chapter 2 on);
* ``gt.gan``: adversarial losses, the R1 penalty and a GAN training loop (chapters 3-4);
* ``gt.show_source``, ``gt.table``, ``gt.quality_table``: show reused code, small tables and
  sample-quality results in a chapter;
* ``gt.save_results``: the results contract read by the comparison chapter;
* ``gt.exercises``: self-checks for the exercises.
"""

from . import budget, data, exercises, gan, likelihood, metrics, plot
from .display import quality_table, show_source, table
from .env import (Setup, full_settings, get_device, get_profile, seed_everything, settings, setup,
                  use_drive)
from .results import checkpoint_path, load_results, results_dir, save_results
from .timing import Timer, per_thousand, timer
from .train import History, batched, count_parameters, fit, load_checkpoint, progress, save_checkpoint

__version__ = "0.1.0"

__all__ = [
    "Setup", "History", "setup", "settings", "seed_everything", "get_device", "get_profile",
    "fit", "progress", "count_parameters", "save_checkpoint", "load_checkpoint",
    "save_results", "load_results", "results_dir", "checkpoint_path",
    "batched", "use_drive", "timer", "Timer", "per_thousand", "budget", "full_settings",
    "data", "metrics", "plot", "exercises", "likelihood", "gan", "show_source", "table", "quality_table", "__version__",
]
