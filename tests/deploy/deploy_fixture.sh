# shellcheck shell=bash
# Shared by the deploy tests (sourced, after shell_helpers.sh and with $bin and $T set):
#   train_tiny NAME SEED DATA_SEED COUNT SIZE
#     synthesises COUNT images of SIZE px (DATA_SEED) into $T/data and trains one variant of
#     the sweep NAME (SEED) for one epoch into $T/sweep, every BatchNorm trained (so folded
#     statistics are not 0/1)
train_tiny() {
  local name=$1 seed=$2 data_seed=$3 count=$4 size=$5
  check "synth" 0 "$bin" synth --out "$T/data" --count "$count" --size "$size" --seed "$data_seed"
  cat >"$T/spec.yaml" <<EOF2
name: $name
seed: $seed
method: variants
metric: {name: val_auc, goal: maximize}
data:
  root: $T/data
  layout: folders
  image_size: $size
  class_map: {"0": 0, "1": 1}
  splits: {train: train, val: valid, test: test}
  leakage: ignore
training:
  epochs: 1
  batch_size: 8
  dense_units: 16
  dropout: 0.3
  unfrozen_fraction: 1.0
  weights: none
  optimizer: adam
variants:
  - name: only
    lr: 1.0e-3
EOF2
  check "run" 0 "$bin" run "$T/spec.yaml" --out "$T/sweep" --cache-dir "$T/cache" --threads 2 --no-progress
}
