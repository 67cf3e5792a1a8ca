"""The package layers: pixgrl → baselines → agents → pixgrl_env, and nothing imports upward."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: package → the packages above it, which it must never import
ABOVE = {"pixgrl_env": ("agents", "baselines", "pixgrl"), "agents": ("baselines", "pixgrl"), "baselines": ("pixgrl",)}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_no_module_imports_a_layer_above_it(package: str) -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(_imported_packages(p) & set(ABOVE[package]))
                 for p in sorted((ROOT / package).rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_using_the_env_loads_no_agent_application_or_plotting_code() -> None:
    code = """
import json, sys
import gymnasium as gym
import numpy as np
import pixgrl_env
env = gym.make("PixGRL-v0", dataset="toy", crop=16)
env.reset(seed=0)
env.step(env.action_space.sample())
venv = gym.make_vec("PixGRL-v0", num_envs=2, dataset="toy", crop=16)
venv.reset(seed=0)
venv.step(np.ones((2, 16, 16), dtype=np.int64))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
      ("agents", "baselines", "pixgrl", "matplotlib", "stable_baselines3", "sklearn"))))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
