#!/usr/bin/env bash
# Reproduces docs/report/: every agent trained with its `quick` preset on the phantom (the same 64×64 crops of
# 128×128 slices), then one `pixgrl evaluate` on the held-out patients of fold 0. About 20 minutes on a 2-core CPU.
set -euo pipefail
runs=${RUNS:-runs/docs}
pixgrl train --agent pixgrl    --preset quick --run-dir "$runs/pixgrl"
pixgrl train --agent dqn       --preset quick --run-dir "$runs/dqn"
pixgrl train --agent reinforce --preset quick --run-dir "$runs/reinforce"
pixgrl train --agent unet      --preset quick --run-dir "$runs/unet"
pixgrl train --agent pix2pix   --preset quick --run-dir "$runs/pix2pix"
pixgrl train --agent sb3       --preset quick --run-dir "$runs/sb3"
pixgrl evaluate "Pix-GRL=$runs/pixgrl" "DQN=$runs/dqn" "REINFORCE=$runs/reinforce" "SB3 PPO=$runs/sb3" \
    "U-Net=$runs/unet" "pix2pix=$runs/pix2pix" identity oracle --out docs/report --max-pairs 32 --device cpu
