#!/usr/bin/env python3
"""Python twin of bench/tpe_bench.cpp: Optuna's TPESampler (its defaults) and RandomSampler
on the same three objectives (bench/tpe_objectives.h), the same budgets, modes and seeds.
Prints the same table, then Optuna's own cost per ask with 10, 100 and 1,000 finished trials.

    .venv/bin/python bench/tpe_bench.py [--seeds 20] [--first-seed 1] [--cost-only | --only OBJECTIVE]

--first-seed S runs seeds S..S+N-1 (e.g. 201 with --seeds 200 for a fresh confirmation range).

Needs optuna (pinned in scripts/setup, installed into the project venv).
"""
import argparse
import math
import statistics
import time
import warnings

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(p):
    x = [p[f"x{j + 1}"] for j in range(6)]
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - 1e-4 * P[i][j]) ** 2 for j in range(6)))
                for i in range(4))


OPTIMIZERS = ["adam", "adamw", "rmsprop", "sgd"]
UNITS = [256, 512, 1024, 2048]
BEST_LOG_LR = {"adam": -3.5, "adamw": -3.3, "rmsprop": -4.0, "sgd": -2.0}
OPT_PENALTY = {"adam": 0, "adamw": 0.05, "rmsprop": 0.3, "sgd": 0.5}
UNITS_PENALTY = {256: 0.3, 512: 0.1, 1024: 0, 2048: 0.15}


def week7(p):
    o = p["optimizer"]
    return ((math.log10(p["lr"]) - BEST_LOG_LR[o]) ** 2 + OPT_PENALTY[o] +
            UNITS_PENALTY[p["dense_units"]] + 4 * (p["dropout"] - 0.3) ** 2 +
            3 * (p["unfrozen_fraction"] - 0.6) ** 2)


def suggest(trial, name):
    if name == "branin":
        return {"x1": trial.suggest_float("x1", -5, 10), "x2": trial.suggest_float("x2", 0, 15)}
    if name == "hartmann6":
        return {f"x{j + 1}": trial.suggest_float(f"x{j + 1}", 0, 1) for j in range(6)}
    return {"lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
            "optimizer": trial.suggest_categorical("optimizer", OPTIMIZERS),
            "dense_units": trial.suggest_categorical("dense_units", UNITS),
            "dropout": trial.suggest_float("dropout", 0, 0.7),
            "unfrozen_fraction": trial.suggest_float("unfrozen_fraction", 0, 1)}


OBJECTIVES = {"branin": branin, "hartmann6": hartmann6, "week7": week7}


def run(sampler, name, budget, pending, checkpoints):
    """Ask/tell loop; pending > 0: each ask is made while `pending` earlier trials run."""
    study = optuna.create_study(sampler=sampler)
    running, values = [], []
    for _ in range(budget):
        trial = study.ask()
        v = OBJECTIVES[name](suggest(trial, name))
        values.append(v)
        running.append((trial, v))
        if len(running) > pending:
            t, tv = running.pop(0)
            study.tell(t, tv)
    return [min(values[:c]) for c in checkpoints]


def compare(seeds, only, first_seed=1):
    budgets = [50, 100]
    print(f"{'objective':<10} {'sampler':<7} {'mode':<6} {'budget':>6} {'seeds':>5} "
          f"{'median':>12} {'q25':>12} {'q75':>12}", flush=True)
    for name in OBJECTIVES:
        if only and name != only:
            continue
        for sampler in ["optuna", "random"]:
            for pending in [0, 4]:
                if sampler == "random" and pending:
                    continue
                best = [[] for _ in budgets]
                for seed in range(first_seed, first_seed + seeds):
                    s = (optuna.samplers.TPESampler(seed=seed) if sampler == "optuna"
                         else optuna.samplers.RandomSampler(seed=seed))
                    for i, b in enumerate(run(s, name, budgets[-1], pending, budgets)):
                        best[i].append(b)
                for i, b in enumerate(budgets):
                    q25, med, q75 = np.quantile(best[i], [0.25, 0.5, 0.75])
                    print(f"{name:<10} {sampler:<7} {'async4' if pending else 'seq':<6} {b:>6} "
                          f"{seeds:>5} {med:>12.6g} {q25:>12.6g} {q75:>12.6g}", flush=True)


def cost():
    """Median seconds of one TPE ask (with its suggest calls) after n finished trials."""
    print(f"\n{'finished':<8} {'ms per ask':>12} {'asks per s':>14}")
    for n in [10, 100, 1000]:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
        rnd = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2))
        for _ in range(n):
            t = rnd.ask()
            p = suggest(t, "week7")
            rnd.tell(t, week7(p))
        study.add_trials(rnd.trials)
        times = []
        for _ in range(21 if n >= 1000 else 51):
            t0 = time.perf_counter()
            t = study.ask()
            suggest(t, "week7")
            times.append(time.perf_counter() - t0)
            study.tell(t, state=optuna.trial.TrialState.FAIL)  # not part of the history
        med = statistics.median(times) * 1000
        print(f"{n:<8} {med:>12.4f} {1000 / med:>14.0f}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1, help="seeds first-seed..first-seed+seeds-1")
    ap.add_argument("--cost-only", action="store_true")
    ap.add_argument("--only", help="one objective: branin, hartmann6 or week7 (no cost table)")
    args = ap.parse_args()
    if not args.cost_only:
        compare(args.seeds, args.only, args.first_seed)
    if not args.only:
        cost()
