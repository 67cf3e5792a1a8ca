#!/usr/bin/env bash
# Reproduces docs/report/: every agent on both registered tasks at the same budget of 4,000 image-steps (the
# supervised U-Net: 300 batches of 8 pairs), 64×64 crops of 128×128 phantom slices with the input and t/T as extra
# observation channels, each agent's `reach` preset (Pix-GRL and its twin on PixGRL-v0: `paper-task`); the Pix-GRL
# agent (graph backbone), its CNN-backbone twin (Table 3) and DQN with 3 seeds each. Every run keeps its best model
# by validation SSIM (best.pt: quick evals every 500 image-steps, or every 40 U-Net batches, on 16 whole validation
# slices; never a test patient), and that model is the one evaluated: one `pixgrl evaluate` per task on the whole
# slices of the held-out patients of fold 0. Then the learning curves (validation SSIM) as a PNG. About 1.5 hours on
# a 2-core CPU (two runs at a time, one thread each).
set -euo pipefail
runs=${RUNS:-runs/report}
out=${OUT:-docs/report}
jobs=${JOBS:-2}
cnn="--set backbone=cnn --set 'net_kwargs={\"widths\":[32,32,32,32,32]}'"  # the graph net's depth and widths
mkdir -p "$runs"
{
  for task in PixGRLReach-v0 PixGRL-v0; do
    a2c=reach; [ "$task" = PixGRL-v0 ] && a2c=paper-task  # the Pix-GRL agent's preset for the task
    for s in 0 1 2; do
      echo "pixgrl train --agent pixgrl --preset $a2c --task $task --set seed=$s --run-dir $runs/$task/pixgrl_s$s"
      echo "pixgrl train --agent pixgrl --preset $a2c --task $task --set seed=$s $cnn --run-dir $runs/$task/cnn_s$s"
      echo "pixgrl train --agent dqn --preset reach --task $task --set seed=$s --run-dir $runs/$task/dqn_s$s"
    done
    for agent in reinforce sb3 unet; do
      echo "pixgrl train --agent $agent --preset reach --task $task --run-dir $runs/$task/$agent"
    done
  done
} | OMP_NUM_THREADS=1 xargs -d '\n' -P "$jobs" -I{} sh -c '{} > /dev/null 2>&1 || { echo "failed: {}" >&2; exit 255; }'

for task in PixGRLReach-v0 PixGRL-v0; do
  r=$runs/$task
  agents=()
  for d in "$r"/pixgrl_s* ; do agents+=("Pix-GRL seed ${d##*_s}=$d/best.pt"); done
  for d in "$r"/cnn_s* ; do agents+=("CNN backbone seed ${d##*_s}=$d/best.pt"); done
  for d in "$r"/dqn_s* ; do agents+=("DQN seed ${d##*_s}=$d/best.pt"); done
  pixgrl evaluate "${agents[@]}" "REINFORCE=$r/reinforce/best.pt" "SB3 PPO=$r/sb3/best.pt" "U-Net=$r/unet/best.pt" \
      identity oracle \
      --task "$task" --split test --out "$out/$task" --device cpu
  oracle=$(python -c "import json; print(round(json.load(open('benchmarks/results/tasks_val.json'))['tasks']['$task']['oracle']['ssim'], 3))")
  pixgrl curves "Pix-GRL (graph)=$r/pixgrl_s*" "CNN backbone=$r/cnn_s*" "DQN=$r/dqn_s*" "REINFORCE=$r/reinforce" \
      --reference "oracle (val)=$oracle" --title "$task: validation SSIM while training" \
      --out "$out/$task/learning_curves.png"
done
