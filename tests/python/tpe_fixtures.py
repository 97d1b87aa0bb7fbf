#!/usr/bin/env python3
"""Records Optuna's TPE numbers for fcnsweep-tune's parity tests.

Writes crates/tune/tests/fixtures/tpe_optuna.json (committed, so the Rust tests never need
Python) with three kinds of cases, all computed by Optuna's own (private) TPE internals:

- "estimators": `_ParzenEstimator` fitted to fixed observation sets of one parameter (float,
  log float, int, log int, categorical; from 0 to 45 observations, so the weight ramp for
  n >= 25 matters; a few non-default options), with `log_pdf` at fixed points.
- "splits": `_split_trials` of fixed mixed histories (complete, pruned with and without
  intermediate values, NaN intermediate values, running, failed), as `TPESampler._sample`
  calls it: trials in the states it reads, n = non-running trials, n_below = default_gamma(n);
  plus the below set for every n_below from 0 to n + 1 (the whole ranking).
- "samplers": a conditional search space (depth, width_i for i < depth, a log learning rate,
  a categorical) over a fixed history; for each parameter, the below and above estimators that
  `TPESampler._build_parzen_estimator` builds after the split, with `log_pdf` at fixed points,
  and 1000 suggestions drawn the way `TPESampler._sample` draws them (24 candidates from the
  below estimator, the best log l - log g wins) for a distributional comparison.

Regenerate with:
    /root/.cache/optuna-venv/bin/python tests/python/tpe_fixtures.py

Non-finite floats are written as the strings "nan", "inf" and "-inf" (JSON has no such
numbers). NumPy's `argsort` does not order ties stably for longer arrays; fcnsweep orders them
by trial number. Every case is recomputed with a stable `argsort` and must agree, so the
fixture never depends on NumPy's tie order.
"""

from __future__ import annotations

import contextlib
import json
import math
import pathlib
import platform
import re
import sys

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import _split_trials
from optuna.samplers._tpe.sampler import default_gamma
from optuna.samplers._tpe.sampler import default_weights
from optuna.trial import create_trial
from optuna.trial import TrialState


N_DRAWS = 1000
OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/tune/tests/fixtures/tpe_optuna.json"


def enc(v: float) -> float | str:
    """A float for JSON: non-finite values as strings."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


@contextlib.contextmanager
def stable_argsort():
    """Makes every np.argsort stable (ties in input order), as fcnsweep sorts."""
    orig = np.argsort

    def argsort(a, axis=-1, kind=None, order=None, **kw):
        return orig(a, axis=axis, kind="stable", order=order, **kw)

    np.argsort = argsort
    try:
        yield
    finally:
        np.argsort = orig


def both_tie_orders(case: str, fn, ties_may_differ: bool = False):
    """fn() with a stable argsort, and whether NumPy's own argsort gives the same.

    Where equal values carry unequal weights (more than 25 observations), Optuna's result
    depends on NumPy's unspecified tie order; fcnsweep orders ties by trial number, i.e. the
    stable result. Designed cases must not depend on it; realistic histories (integers over a
    small range) may, and then record the stable result and say so.
    """
    with np.errstate(divide="ignore"):
        default = np.asarray(fn(), dtype=float)
        with stable_argsort():
            stable = np.asarray(fn(), dtype=float)
    same = bool((np.isclose(default, stable, rtol=1e-14, atol=0.0) | (default == stable)).all())
    if not same and not ties_may_differ:
        raise SystemExit(f"fixture depends on NumPy's tie order: change the data of {case}")
    return stable, same


def distribution(domain: dict):
    if domain["kind"] == "float":
        return FloatDistribution(domain["low"], domain["high"], log=domain["log"])
    if domain["kind"] == "int":
        return IntDistribution(domain["low"], domain["high"], log=domain["log"])
    return CategoricalDistribution(list(range(domain["choices"])))


def parameters(prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False):
    fields = dict(
        prior_weight=prior_weight,
        consider_magic_clip=consider_magic_clip,
        consider_endpoints=consider_endpoints,
        weights=default_weights,
        multivariate=False,
    )
    if "categorical_distance_func" in _ParzenEstimatorParameters._fields:  # Optuna 4.x
        fields["categorical_distance_func"] = {}
    return _ParzenEstimatorParameters(**fields)


def points_for(domain: dict, observations: list[float]) -> list[float]:
    kind = domain["kind"]
    if kind == "categorical":
        return [float(i) for i in range(domain["choices"])]
    low, high = domain["low"], domain["high"]
    if kind == "int":
        if high - low <= 40:
            return [float(v) for v in range(low, high + 1)]
        if domain["log"]:
            grid = np.unique(np.round(np.geomspace(low, high, 25)))
        else:
            grid = np.unique(np.round(np.linspace(low, high, 25)))
        return sorted({float(v) for v in grid} | {float(v) for v in observations[:5]})
    if domain["log"]:
        grid = np.geomspace(low, high, 21)
    else:
        grid = np.linspace(low, high, 21)
    grid[0], grid[-1] = low, high
    return [float(v) for v in grid] + [float(v) for v in observations[:5]]


def estimator_case(name, domain, observations, **options):
    dist = distribution(domain)
    points = points_for(domain, observations)

    def run():
        pe = _ParzenEstimator(
            {"p": np.asarray(observations, dtype=float)}, {"p": dist}, parameters(**options)
        )
        return pe.log_pdf({"p": np.asarray(points, dtype=float)})

    log_pdf, _ = both_tie_orders(name, run)
    full = dict(prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False)
    full.update(options)
    return {
        "name": name,
        "domain": domain,
        "options": full,
        "observations": [float(v) for v in observations],
        "points": points,
        "log_pdf": [enc(v) for v in log_pdf],
    }


def estimator_cases() -> list[dict]:
    rs = np.random.RandomState(20240611)
    cases = []
    f = {"kind": "float", "low": -2.0, "high": 3.0, "log": False}
    cases.append(estimator_case("float_prior_only", f, []))
    cases.append(estimator_case("float_one", f, [0.7]))
    cases.append(estimator_case("float_two", f, [0.7, -1.9]))
    x8 = list(np.round(rs.uniform(-2.0, 3.0, 8), 6))
    cases.append(estimator_case("float_8", f, x8))
    # Spread out at first, then clustered near a corner with exact endpoints and duplicates,
    # ties only among the newest 25 (equal weights) so that NumPy's tie order cannot matter.
    x40 = list(rs.uniform(-2.0, 3.0, 15)) + list(np.clip(rs.normal(2.2, 0.6, 25), -2.0, 3.0))
    x40[-1] = 3.0
    x40[-2] = x40[-3]
    cases.append(estimator_case("float_40_ramp", f, x40))
    cases.append(estimator_case("float_40_endpoints", f, x40, consider_endpoints=True))
    cases.append(estimator_case("float_40_no_magic_clip", f, x40, consider_magic_clip=False))
    cases.append(estimator_case("float_40_prior_weight_0.5", f, x40, prior_weight=0.5))
    cases.append(estimator_case("float_8_prior_weight_0", f, x8, prior_weight=0.0))
    cases.append(estimator_case("float_prior_only_prior_weight_0", f, [], prior_weight=0.0))

    lf = {"kind": "float", "low": 1e-5, "high": 0.1, "log": True}
    lr30 = list(10 ** rs.uniform(-5.0, -1.0, 30))
    lr30[0] = 1e-5
    cases.append(estimator_case("log_float_30_ramp", lf, lr30))
    cases.append(estimator_case("log_float_3", lf, lr30[:3]))

    i = {"kind": "int", "low": 1, "high": 16, "log": False}
    # Ties only among the newest 25 (equal weights), so NumPy's tie order cannot matter.
    k_old = [2.0, 5.0, 11.0, 14.0, 16.0, 1.0, 8.0, 3.0]
    k_new = [float(v) for v in rs.choice([4, 6, 7, 9, 10, 12, 13, 15], 25)]
    cases.append(estimator_case("int_33_ramp_ties", i, k_old + k_new))
    cases.append(estimator_case("int_4", i, [4.0, 4.0, 16.0, 1.0]))
    cases.append(estimator_case("int_prior_only", i, []))
    wide = {"kind": "int", "low": -50, "high": 200, "log": False}
    cases.append(estimator_case("int_wide_6", wide, [-50.0, 0.0, 3.0, 150.0, 199.0, 200.0]))

    li = {"kind": "int", "low": 1, "high": 1024, "log": True}
    w_old = [3.0, 700.0, 1.0, 90.0, 1024.0]
    w_new = [float(v) for v in rs.choice([8, 16, 32, 64, 128, 256], 25)]
    cases.append(estimator_case("log_int_30_ramp_ties", li, w_old + w_new))
    li8 = {"kind": "int", "low": 8, "high": 512, "log": True}
    cases.append(estimator_case("log_int_3", li8, [8.0, 64.0, 300.0]))

    c = {"kind": "categorical", "choices": 4}
    cases.append(estimator_case("categorical_prior_only", c, []))
    cases.append(estimator_case("categorical_3", c, [1.0, 1.0, 3.0]))
    cat45 = [float(v) for v in rs.choice(4, 45, p=[0.1, 0.6, 0.1, 0.2])]
    cases.append(estimator_case("categorical_45_ramp", c, cat45))
    cases.append(estimator_case("categorical_45_prior_weight_2", c, cat45, prior_weight=2.0))
    cases.append(
        estimator_case("categorical_6_prior_weight_0", {"kind": "categorical", "choices": 3},
                       [0.0, 2.0, 2.0, 0.0, 2.0, 2.0], prior_weight=0.0)
    )
    cases.append(estimator_case("categorical_prior_only_prior_weight_0", c, [], prior_weight=0.0))
    return cases


def add_trials(study: optuna.Study, trials: list[dict], dists: dict) -> None:
    states = {
        "complete": TrialState.COMPLETE,
        "pruned": TrialState.PRUNED,
        "running": TrialState.RUNNING,
        "fail": TrialState.FAIL,
    }
    for t in trials:
        params = {k: dists[k].to_external_repr(v) for k, v in t.get("params", {}).items()}
        study.add_trial(
            create_trial(
                state=states[t["state"]],
                value=t.get("value") if t["state"] == "complete" else None,
                params=params,
                distributions={k: dists[k] for k in params},
                intermediate_values={s: v for s, v in t.get("intermediate", [])},
            )
        )


def split(study: optuna.Study, constant_liar: bool):
    """The split exactly as TPESampler._sample computes it."""
    states = [TrialState.COMPLETE, TrialState.PRUNED]
    if constant_liar:
        states.append(TrialState.RUNNING)
    trials = study._get_trials(deepcopy=False, states=states, use_cache=False)
    n = sum(t.state != TrialState.RUNNING for t in trials)
    n_below = default_gamma(n)
    below, above = _split_trials(study, trials, n_below)
    return n, n_below, below, above


def json_trials(trials: list[dict]) -> list[dict]:
    out = []
    for number, t in enumerate(trials):
        j = {"number": number, "state": t["state"]}
        if t["state"] == "complete":
            j["value"] = enc(t["value"])
        if "intermediate" in t:
            j["intermediate"] = [[s, enc(v)] for s, v in t["intermediate"]]
        if "params" in t:
            j["params"] = t["params"]
        out.append(j)
    return out


def split_history() -> list[dict]:
    nan, inf = float("nan"), float("inf")
    values = [0.9, 0.3, 0.3, 0.05, 0.7, -inf, 0.3, 1.5, inf, 0.2, 0.3, 0.11, 0.4, 0.08, 0.3]
    pruned = [
        [(0, 0.5), (1, 0.4), (4, 0.35)],
        [(0, 0.1), (1, 0.09)],
        [(0, 0.7), (4, nan)],
        [],
        [(2, 0.2), (4, 0.35)],
        [(0, 0.05)],
        [(3, 1.0), (0, 0.01)],
        [(0, 0.5), (1, 0.4), (4, 0.36)],
    ]
    trials: list[dict] = []
    # Interleave so that numbers, states and ranks are all mixed.
    for k in range(max(len(values), len(pruned))):
        if k < len(values):
            trials.append({"state": "complete", "value": values[k]})
        if k < len(pruned):
            trials.append({"state": "pruned", "intermediate": pruned[k]})
        if k % 4 == 1:
            trials.append({"state": "running"})
        if k % 6 == 5:
            trials.append({"state": "fail"})
    return trials


def split_cases() -> list[dict]:
    cases = []
    full = split_history()
    for direction in ["minimize", "maximize"]:
        for constant_liar in [True, False]:
            for size in [len(full), 12]:
                trials = full[:size]
                study = optuna.create_study(direction=direction)
                add_trials(study, trials, {})
                n, n_below, below, above = split(study, constant_liar)
                # Every other n_below too, so that the whole ranking (complete, then pruned) shows.
                sweep = []
                for k in range(n + 2):
                    states = [TrialState.COMPLETE, TrialState.PRUNED]
                    if constant_liar:
                        states.append(TrialState.RUNNING)
                    ts = study._get_trials(deepcopy=False, states=states, use_cache=False)
                    b, _ = _split_trials(study, ts, k)
                    sweep.append({"n_below": k, "below": [t.number for t in b]})
                cases.append(
                    {
                        "name": f"{direction}_liar_{constant_liar}_{size}",
                        "direction": direction,
                        "constant_liar": constant_liar,
                        "trials": json_trials(trials),
                        "n": n,
                        "n_below": n_below,
                        "below": [t.number for t in below],
                        "above": [t.number for t in above],
                        "sweep": sweep,
                    }
                )
    # Fewer pruned than needed below: n_below spills over from complete into pruned.
    trials = [{"state": "complete", "value": 1.0}] + [
        {"state": "pruned", "intermediate": [(s, 0.1 * s)]} for s in range(40)
    ]
    study = optuna.create_study(direction="minimize")
    add_trials(study, trials, {})
    n, n_below, below, above = split(study, True)
    cases.append(
        {
            "name": "pruned_fill_below",
            "direction": "minimize",
            "constant_liar": True,
            "trials": json_trials(trials),
            "n": n,
            "n_below": n_below,
            "below": [t.number for t in below],
            "above": [t.number for t in above],
            "sweep": [],
        }
    )
    return cases


def sampler_cases() -> list[dict]:
    """A conditional space over a fixed history, through TPESampler's own estimator builder."""
    rs = np.random.RandomState(7)
    domains = {
        "depth": {"kind": "int", "low": 1, "high": 4, "log": False},
        "width_0": {"kind": "int", "low": 8, "high": 512, "log": True},
        "width_1": {"kind": "int", "low": 8, "high": 512, "log": True},
        "width_2": {"kind": "int", "low": 8, "high": 512, "log": True},
        "lr": {"kind": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "dropout": {"kind": "float", "low": 0.0, "high": 0.5, "log": False},
        "activation": {"kind": "categorical", "choices": 4},
    }
    dists = {k: distribution(d) for k, d in domains.items()}
    trials = []
    for k in range(48):
        depth = int(rs.randint(1, 5))
        params = {"depth": float(depth)}
        for i in range(depth - 1):
            params[f"width_{i}"] = float(round(math.exp(rs.uniform(math.log(8), math.log(512)))))
        params["lr"] = float(10 ** rs.uniform(-5, -1))
        if depth >= 2:
            params["dropout"] = float(rs.uniform(0, 0.5))
        params["activation"] = float(rs.randint(4))
        loss = (
            (math.log10(params["lr"]) + 2.5) ** 2
            + 0.3 * abs(depth - 3)
            + [0.4, 0.0, 0.7, 0.2][int(params["activation"])]
            + sum((math.log2(params[f"width_{i}"]) - 6) ** 2 for i in range(depth - 1)) / 20
        )
        state = "complete"
        t: dict = {"params": params}
        if k % 7 == 3:
            state = "pruned"
            t["intermediate"] = [(e, loss + 1.0 / (e + 1)) for e in range(1 + k % 4)]
        elif k % 9 == 8 or k >= 45:
            state = "running"
        else:
            t["value"] = loss
        t["state"] = state
        trials.append(t)

    cases = []
    for direction, constant_liar in [("minimize", True), ("minimize", False), ("maximize", True)]:
        study = optuna.create_study(direction=direction)
        add_trials(study, trials, dists)
        sampler = TPESampler(multivariate=False, constant_liar=constant_liar, seed=0)
        n, n_below, below, above = split(study, constant_liar)
        params = []
        for name, domain in domains.items():
            dist = dists[name]
            points = points_for(domain, [])

            def run(trial_set, handle_below):
                mpe = sampler._build_parzen_estimator(study, {name: dist}, trial_set, handle_below)
                return mpe.log_pdf({name: np.asarray(points, dtype=float)})

            # What TPESampler._sample would suggest, N_DRAWS times (with NumPy's RNG, so the
            # Rust test compares distributions, not values).
            with stable_argsort():
                mpe_below = sampler._build_parzen_estimator(study, {name: dist}, below, True)
                mpe_above = sampler._build_parzen_estimator(study, {name: dist}, above, False)
            rng = np.random.RandomState(12345)
            draws = []
            for _ in range(N_DRAWS):
                samples = mpe_below.sample(rng, 24)
                acq = sampler._compute_acquisition_func(samples, mpe_below, mpe_above)
                draws.append(float(f"{TPESampler._compare(samples, acq)[name]:.9g}"))
            below_lp, below_same = both_tie_orders(name, lambda: run(below, True), True)
            above_lp, above_same = both_tie_orders(name, lambda: run(above, False), True)
            params.append(
                {
                    "name": name,
                    "domain": domain,
                    "points": points,
                    "below_log_pdf": [enc(v) for v in below_lp],
                    "above_log_pdf": [enc(v) for v in above_lp],
                    # False where NumPy's unstable argsort changes Optuna's own numbers.
                    "numpy_tie_order_agrees": below_same and above_same,
                    "suggestions": draws,
                    "n_below_obs": sum(name in t.params for t in below),
                    "n_above_obs": sum(name in t.params for t in above),
                }
            )
        finished = study._get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED), use_cache=False
        )
        cases.append(
            {
                "name": f"conditional_{direction}_liar_{constant_liar}",
                "direction": direction,
                "constant_liar": constant_liar,
                "trials": json_trials(trials),
                "startup": len(finished) < 10,
                "n": n,
                "below": [t.number for t in below],
                "above": [t.number for t in above],
                "params": params,
            }
        )
    return cases


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fixture = {
        "generator": "tests/python/tpe_fixtures.py",
        "optuna_version": optuna.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "estimators": estimator_cases(),
        "splits": split_cases(),
        "samplers": sampler_cases(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, indent=1, allow_nan=False)
    # Arrays of plain values on one line each.
    text = re.sub(
        r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text
    )
    OUT.write_text(text + "\n")
    n_points = sum(len(c["points"]) for c in fixture["estimators"])
    n_points += sum(2 * len(p["points"]) for c in fixture["samplers"] for p in c["params"])
    print(
        f"wrote {OUT} (optuna {optuna.__version__}): {len(fixture['estimators'])} estimators, "
        f"{len(fixture['splits'])} splits, {len(fixture['samplers'])} sampler cases, "
        f"{n_points} log_pdf values",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
