"""pixgrl: the application around the PixGRL environment.

The ``pixgrl`` command line (:mod:`pixgrl.cli`), the evaluation metrics (:mod:`pixgrl.metrics`), scripted
evaluation and its reports (:mod:`pixgrl.evaluation`, :mod:`pixgrl.report`, :mod:`pixgrl.figures`), ablations
(:mod:`pixgrl.ablations`), NIfTI synthesis (:mod:`pixgrl.synthesis`), the demo (:mod:`pixgrl.demo`) and the agent
registry (:mod:`pixgrl.registry`).

Layers, top to bottom (no import runs upward): ``pixgrl`` → ``baselines`` → ``agents`` → ``pixgrl_env``. The
environment package stands alone: ``import pixgrl_env`` loads no agent and no application code.
"""

from pixgrl_env import __version__

__all__ = ["__version__"]
