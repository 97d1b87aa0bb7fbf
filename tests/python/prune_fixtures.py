"""Record Optuna's pruning decisions on fixed learning curves, for fcnsweep-tune's replay test.

Runs in-memory Optuna studies with MedianPruner, SuccessiveHalvingPruner and HyperbandPruner
(defaults and non-default options, maximize and minimize, NaN values, failed trials, several
trials open at once through ask/tell), reporting step = 1, 2, ... and calling should_prune after
every report, stopping a trial as soon as it says so. Every ask, report (with its decision) and
tell goes to crates/tune/tests/fixtures/prune_optuna.json, with the curves' values, the study
name, and for Hyperband each trial's bracket, so the Rust test replays it without Python.

    /root/.cache/optuna-venv/bin/python tests/python/prune_fixtures.py
"""

from __future__ import annotations

import json
import math
import pathlib
import warnings

import numpy as np
import optuna
from optuna.trial import TrialState

OUT = (
    pathlib.Path(__file__).resolve().parents[2]
    / "crates"
    / "tune"
    / "tests"
    / "fixtures"
    / "prune_optuna.json"
)


def make_curves(seed, n_trials, n_steps, direction, decimals, nan_prob=0.0, nan_steps=(),
                short_prob=0.0, all_nan_trials=()):
    """Deterministic learning curves: saturating exponentials plus seeded noise, rounded."""
    rng = np.random.RandomState(seed)
    curves = []
    for i in range(n_trials):
        length = n_steps
        if rng.rand() < short_prob:
            length = int(rng.randint(max(2, n_steps // 3), n_steps))
        a = rng.uniform(0.5, 0.95)
        b = rng.uniform(0.2, 0.5)
        c = rng.uniform(0.05, 0.6)
        t = np.arange(1, length + 1)
        acc = a - b * np.exp(-c * t) + rng.normal(0.0, 0.02, size=length)
        vals = acc if direction == "maximize" else 1.0 - acc
        vals = [round(float(v), decimals) for v in vals]
        for k in range(length):
            if (k + 1) in nan_steps or rng.rand() < nan_prob or i in all_nan_trials:
                vals[k] = math.nan
        curves.append(vals)
    return curves


def make_pruner(kind, o):
    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=o["n_startup_trials"],
            n_warmup_steps=o["n_warmup_steps"],
            interval_steps=o["interval_steps"],
            n_min_trials=o["n_min_trials"],
        )
    if kind == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=o["min_resource"],
            reduction_factor=o["reduction_factor"],
            min_early_stopping_rate=o["min_early_stopping_rate"],
            bootstrap_count=o["bootstrap_count"],
        )
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=o["min_resource"],
            max_resource="auto" if o["max_resource"] is None else o["max_resource"],
            reduction_factor=o["reduction_factor"],
            bootstrap_count=o["bootstrap_count"],
        )
    raise ValueError(kind)


def num(v):
    return None if math.isnan(v) else v


def run(name, kind, options, direction, curves, concurrency=1, fail=()):
    """Run the trials, `concurrency` open at once, each advancing 1 or 2 steps per tick.

    Trial i fails (tell FAIL) after its last value when i is in `fail`.
    """
    study_name = f"fcnsweep-{name}"
    study = optuna.create_study(
        study_name=study_name,
        direction=direction,
        pruner=make_pruner(kind, options),
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    events = []
    open_trials = []  # [trial, number, next step index]
    next_number = 0
    tick = 0
    while next_number < len(curves) or open_trials:
        while len(open_trials) < concurrency and next_number < len(curves):
            trial = study.ask()
            assert trial.number == next_number
            events.append(["a", trial.number])
            open_trials.append([trial, trial.number, 0])
            next_number += 1
        for slot in list(open_trials):
            trial, number, k = slot
            burst = 1 if concurrency == 1 else 1 + (number + tick) % 2
            state = None
            for _ in range(burst):
                value = curves[number][k]
                step = k + 1
                trial.report(value, step)
                pruned = bool(trial.should_prune())
                events.append(["r", number, step, num(value), pruned])
                k += 1
                if pruned:
                    state = TrialState.PRUNED
                    break
                if k == len(curves[number]):
                    state = TrialState.FAIL if number in fail else TrialState.COMPLETE
                    break
            slot[2] = k
            if state is None:
                continue
            if state == TrialState.COMPLETE:
                finite = [v for v in curves[number][:k] if not math.isnan(v)]
                study.tell(trial, finite[-1] if finite else 0.0)
                events.append(["t", number, "complete"])
            elif state == TrialState.PRUNED:
                study.tell(trial, state=TrialState.PRUNED)
                events.append(["t", number, "pruned"])
            else:
                study.tell(trial, state=TrialState.FAIL)
                events.append(["t", number, "failed"])
            open_trials.remove(slot)
        tick += 1
    scenario = {
        "name": name,
        "study": study_name,
        "direction": direction,
        "pruner": {"kind": kind, "options": options},
        "events": events,
    }
    if kind == "hyperband":
        pruner = study.pruner
        scenario["brackets"] = [
            pruner._get_bracket_id(study, t) for t in study.get_trials(deepcopy=False)
        ]
    n = sum(1 for e in events if e[0] == "r")
    p = sum(1 for e in events if e[0] == "r" and e[4])
    print(f"{name}: {n} decisions, {p} prunes")
    return scenario


MEDIAN = dict(n_startup_trials=5, n_warmup_steps=0, interval_steps=1, n_min_trials=1)
HALVING = dict(min_resource=1, reduction_factor=4, min_early_stopping_rate=0, bootstrap_count=0)
HYPERBAND = dict(min_resource=1, max_resource=None, reduction_factor=3, bootstrap_count=0)


def main():
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    S = []
    # --- median
    S.append(run("median-default-max", "median", MEDIAN, "maximize",
                 make_curves(1, 30, 20, "maximize", 4)))
    S.append(run("median-default-min-nan", "median", MEDIAN, "minimize",
                 make_curves(2, 30, 16, "minimize", 3, nan_prob=0.06, nan_steps=(7,),
                             all_nan_trials=(9, 17))))
    S.append(run("median-options-min", "median",
                 dict(n_startup_trials=3, n_warmup_steps=4, interval_steps=3, n_min_trials=3),
                 "minimize", make_curves(3, 30, 24, "minimize", 2, short_prob=0.4)))
    S.append(run("median-concurrent-max", "median",
                 dict(MEDIAN, n_warmup_steps=2, interval_steps=2), "maximize",
                 make_curves(4, 30, 20, "maximize", 2, nan_prob=0.03, short_prob=0.2),
                 concurrency=3))
    # --- successive halving
    S.append(run("halving-default-max", "successive_halving", HALVING, "maximize",
                 make_curves(5, 30, 20, "maximize", 4)))
    S.append(run("halving-options-min-nan", "successive_halving",
                 dict(min_resource=2, reduction_factor=2, min_early_stopping_rate=1,
                      bootstrap_count=0), "minimize",
                 make_curves(6, 30, 20, "minimize", 2, nan_prob=0.05, short_prob=0.2),
                 fail=(4, 11)))
    S.append(run("halving-bootstrap-max", "successive_halving",
                 dict(min_resource=1, reduction_factor=3, min_early_stopping_rate=0,
                      bootstrap_count=3), "maximize",
                 make_curves(7, 30, 12, "maximize", 2)))
    S.append(run("halving-concurrent-min", "successive_halving", HALVING, "minimize",
                 make_curves(8, 36, 20, "minimize", 2, nan_prob=0.02, short_prob=0.2),
                 concurrency=3, fail=(5,)))
    # --- hyperband
    S.append(run("hyperband-max27-max", "hyperband", dict(HYPERBAND, max_resource=27),
                 "maximize", make_curves(9, 40, 27, "maximize", 3)))
    S.append(run("hyperband-options-concurrent-min", "hyperband",
                 dict(min_resource=2, max_resource=30, reduction_factor=2, bootstrap_count=2),
                 "minimize",
                 make_curves(10, 40, 30, "minimize", 2, nan_prob=0.03, short_prob=0.15),
                 concurrency=3, fail=(6,)))
    S.append(run("hyperband-auto-max", "hyperband", HYPERBAND, "maximize",
                 make_curves(11, 36, 20, "maximize", 3)))
    doc = {
        "generator": "tests/python/prune_fixtures.py",
        "optuna_version": optuna.__version__,
        "numpy_version": np.__version__,
        "events": "[a, n] = ask trial n; [r, n, step, value (null = NaN), pruned] = report "
                  "and should_prune; [t, n, state] = tell",
        "scenarios": S,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    # One event per line keeps the committed file diffable.
    text = text.replace('],["', '],\n["')
    OUT.write_text(text + "\n")
    print(f"wrote {OUT} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
