"""The paper's ablations as named experiments: train every variant at a set budget, evaluate, one combined table.

    >>> from pixgrl.ablations import run_ablation
    >>> run_ablation("table5-lambda", budget=20_000, out_dir="ablations/lambda",
    ...              dataset="phantom", dataset_kwargs={"size": 128})  # doctest: +SKIP

Experiments (:data:`ABLATIONS`; the paper's numbers, where it gives them, go in the table's "paper" columns):

- ``table3``: the backbone of the Pix-GRL agent (Table 3): graph (Pix-GRL), cnn, dilated, unet, fcn8s, resnet18,
  set as the ``"pixgrl"`` agent's ``Config.backbone``.
- ``table5-step``: the action step size ×±S, S in 1.5, 1.2, 1.1, 1.07, 1.05, 1.01 (``factors`` presets
  ``stepS`` of :data:`~pixgrl_env.config.ACTION_PRESETS`).
- ``table5-actions``: the number of actions, 3, 5 or 7 (presets ``n3``, ``n5``, ``n7``).
- ``table5-lambda``: λ, the region reward weight, in 0.05, 0.1, 0.2, 0.3, 0.5, 1, 1.5 (the paper lists 0.3 in the
  text but reports no number for it).
- ``table5-patch``: the region reward's patch side, 2, 4, 8, 16, 32, 64.
- ``fig16-reward``: pixel-level reward only (λ = 0), region-level only (pixel weight 0), dual (Fig. 16).
- ``fig16-distance``: the region distance, Wasserstein-1 vs KL, JS and MSE (section 5.7).
- ``episode-length``: T in 3, 5, 10, 20, an axis of this project: longer episodes lift the reachability cap of
  the paper's action set (``docs/paper.md``, "Reachability").

Every variant starts from the same base (the agent's ``preset`` Config and the paper's :class:`EnvConfig`, plus
the user's overrides) and changes one setting. :func:`run_ablation` trains each at ``budget`` (the Config field
``budget_field``, ``total_timesteps`` by default: image-steps), evaluates it on the held-out fold with
:func:`pixgrl.evaluation.evaluate` (whole images), next to the oracle of its own task (the reachable ceiling,
which changes with the action set and T), and writes ``ablation.md`` and ``ablation.json`` to ``out_dir``. A
variant whose folder holds a checkpoint is resumed by its trainer (``resume=True``), so an interrupted ablation
continues where it stopped. The lesion classifier of the diagnosis metrics is fitted once and shared. Every variant
trains on the train folds and is evaluated on the held-out test fold, so it passes the evaluation's check for
training patients (:mod:`pixgrl.evaluation.leakage`); each row states the variant's budget (env steps, wall time and
device, from its checkpoint where the trainer wrote one).

Budgets in the paper (80,000 epochs on 4 GPUs) are far beyond a CPU; small budgets rank variants only roughly.

Modules: :mod:`~pixgrl.ablations.experiments` (the axes and their variants), :mod:`~pixgrl.ablations.runner`
(configs, training, evaluation, the table), :mod:`~pixgrl.ablations.commands` (``pixgrl ablate``).
"""

from pixgrl.ablations.commands import register_cli
from pixgrl.ablations.experiments import ABLATIONS, Ablation, Variant, get_ablation, list_ablations
from pixgrl.ablations.runner import (
    BUDGET_FIELDS,
    FORMAT,
    TrainFn,
    ablation_table,
    base_env_config,
    budget_field_of,
    build_config,
    build_env_config,
    run_ablation,
)

__all__ = [
    "ABLATIONS", "BUDGET_FIELDS", "FORMAT", "Ablation", "TrainFn", "Variant", "ablation_table", "base_env_config",
    "budget_field_of", "build_config", "build_env_config", "get_ablation", "list_ablations", "register_cli",
    "run_ablation",
]
