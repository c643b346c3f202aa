#!/usr/bin/env python3
"""GBDT anchors for kiln's benchmarks: XGBoost 1.7 `hist` and scikit-learn's
HistGradientBoostingClassifier trained on the data of make-data.mjs, each library in its own
child process (so peak RSS is per library). Reports train time, test AUC / log-loss, peak RSS,
batch-prediction throughput and (XGBoost) single-row latency as one JSON document, and saves the
XGBoost model and its test predictions next to the data so kiln can check an imported model.

  node benchmarks/gbdt/make-data.mjs --rows 1000000
  /usr/bin/python3 benchmarks/gbdt/anchor.py [--data DIR] [--only xgboost|hgb] [--reps 1]
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BENCH_DIR / ".data"  # same folder as DATA_DIR in benchmarks/lib.mjs
LIBRARIES = ("xgboost", "hgb")

EXAMPLE = """examples:
  node benchmarks/gbdt/make-data.mjs --rows 1000000
  /usr/bin/python3 benchmarks/gbdt/anchor.py --reps 1
  /usr/bin/python3 benchmarks/gbdt/anchor.py --only xgboost --trees 100 --leaves 63 --threads 2 --out /tmp/xgb.json
"""


def parse_cli():
    """Parses the command line (public flags plus the hidden --child mode)."""
    p = argparse.ArgumentParser(
        description="XGBoost 1.7 hist / sklearn HGB anchors on benchmarks/.data/gbdt-synth-<rows>.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", help="data folder written by make-data.mjs (default benchmarks/.data/gbdt-synth-<rows>)")
    p.add_argument("--rows", type=int, default=1_000_000, help="picks the default --data folder (default 1000000)")
    p.add_argument("--trees", type=int, default=100, help="boosting rounds (default 100)")
    p.add_argument("--leaves", type=int, default=63, help="max leaves per tree (default 63)")
    p.add_argument("--learning-rate", type=float, default=0.1, help="shrinkage (default 0.1)")
    p.add_argument("--max-bin", type=int, default=255, help="histogram bins per feature (default 255)")
    p.add_argument("--threads", type=int, default=2, help="threads for both libraries (default 2)")
    p.add_argument("--min-child-weight", type=float, default=1e-3, help="min hessian sum per leaf (default 1e-3)")
    p.add_argument("--lambda-l2", type=float, default=0.0, help="L2 on leaf weights (default 0)")
    p.add_argument("--min-data-in-leaf", type=int, default=20, help="HGB min_samples_leaf; XGBoost has no equivalent (default 20)")
    p.add_argument("--base-score", default="mean",
                   help="'mean' = train positive rate (LightGBM boost_from_average), or a probability such as 0.5 (default mean)")
    p.add_argument("--single-row-calls", type=int, default=2000, help="calls for the single-row latency (default 2000)")
    p.add_argument("--only", choices=LIBRARIES, help="run one library only")
    p.add_argument("--reps", type=int, default=1, help="child processes per library, interleaved; medians reported (default 1)")
    p.add_argument("--out", help="also write the JSON here (default <data>/anchor.json)")
    p.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    p.add_argument("--save-artifacts", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.data is None:
        args.data = str(DATA_DIR / f"gbdt-synth-{args.rows}")
    return args


def shared_params(args):
    """Training parameters common to both libraries, as recorded in the output."""
    return {
        "trees": args.trees,
        "leaves": args.leaves,
        "learningRate": args.learning_rate,
        "maxBin": args.max_bin,
        "threads": args.threads,
        "minChildWeight": args.min_child_weight,
        "lambdaL2": args.lambda_l2,
        "minDataInLeaf": args.min_data_in_leaf,
        "baseScore": args.base_score,
        "singleRowCalls": args.single_row_calls,
    }


def xgboost_params(params, train_positive_rate):
    """The exact XGBoost 1.7 parameter dict used for training."""
    base = train_positive_rate if params["baseScore"] == "mean" else float(params["baseScore"])
    return {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "grow_policy": "lossguide",
        "max_leaves": params["leaves"],
        "max_depth": 0,
        "eta": params["learningRate"],
        "max_bin": params["maxBin"],
        "nthread": params["threads"],
        "min_child_weight": params["minChildWeight"],
        "lambda": params["lambdaL2"],
        "alpha": 0.0,
        "gamma": 0.0,
        "max_delta_step": 0.0,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "base_score": base,
        "eval_metric": "logloss",
        "verbosity": 1,
    }


def hgb_params(params):
    """The exact HistGradientBoostingClassifier constructor arguments."""
    return {
        "loss": "log_loss",
        "learning_rate": params["learningRate"],
        "max_iter": params["trees"],
        "max_leaf_nodes": params["leaves"],
        "max_depth": None,
        "min_samples_leaf": params["minDataInLeaf"],
        "l2_regularization": params["lambdaL2"],
        "max_bins": params["maxBin"],
        "early_stopping": False,
        "random_state": 0,
    }


def peak_rss_mb():
    """Peak resident set size of this process in MB (VmHWM; ru_maxrss as fallback)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_split(data_dir, meta, split):
    """Reads <split>_X.f32 (rows×cols row-major) and <split>_y.f32 from a make-data.mjs folder."""
    import numpy as np

    rows = meta["trainRows"] if split == "train" else meta["testRows"]
    X = np.fromfile(os.path.join(data_dir, f"{split}_X.f32"), dtype="<f4").reshape(rows, meta["cols"])
    y = np.fromfile(os.path.join(data_dir, f"{split}_y.f32"), dtype="<f4")
    assert y.shape[0] == rows, f"{split}_y.f32 has {y.shape[0]} rows, meta says {rows}"
    return X, y


def best_of(n, fn):
    """Smallest wall time in seconds of n calls of fn, and fn's last result."""
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def latency_us(calls, rows, fn):
    """p50/p99 wall time in microseconds of fn(row) over `calls` calls cycling through rows (after a warm-up)."""
    import numpy as np

    for i in range(min(100, calls)):
        fn(rows[i % len(rows)])
    samples = np.empty(calls)
    for i in range(calls):
        row = rows[i % len(rows)]
        t0 = time.perf_counter_ns()
        fn(row)
        samples[i] = (time.perf_counter_ns() - t0) / 1000
    return {"p50": round(float(np.percentile(samples, 50)), 1), "p99": round(float(np.percentile(samples, 99)), 1), "calls": calls}


def run_xgboost(args, meta, params):
    """Child: trains XGBoost hist, evaluates, times prediction; returns the result dict."""
    import numpy as np
    import xgboost as xgb
    from sklearn.metrics import log_loss, roc_auc_score

    X, y = load_split(args.data, meta, "train")
    Xt, yt = load_split(args.data, meta, "test")
    rss_after_load = peak_rss_mb()
    xgb_params = xgboost_params(params, float(y.mean()))

    t0 = time.perf_counter()
    dtrain = xgb.DMatrix(X, label=y, missing=np.nan, nthread=params["threads"])
    dmatrix_seconds = time.perf_counter() - t0

    round_ends = []

    class RoundClock(xgb.callback.TrainingCallback):
        """Records the wall clock at the end of every boosting round."""

        def after_iteration(self, model, epoch, evals_log):
            round_ends.append(time.perf_counter())
            return False

    t0 = time.perf_counter()
    bst = xgb.train(xgb_params, dtrain, num_boost_round=params["trees"], callbacks=[RoundClock()])
    train_seconds = time.perf_counter() - t0
    rss_after_train = peak_rss_mb()

    dtest = xgb.DMatrix(Xt, label=yt, missing=np.nan, nthread=params["threads"])
    prob = bst.predict(dtest)
    auc = roc_auc_score(yt, prob)
    logloss = log_loss(yt, prob.astype(np.float64))

    inplace_s, prob_inplace = best_of(3, lambda: bst.inplace_predict(Xt, missing=np.nan))
    dmatrix_s, _ = best_of(3, lambda: bst.predict(xgb.DMatrix(Xt, missing=np.nan, nthread=params["threads"])))
    rows = [Xt[i : i + 1] for i in range(min(2000, Xt.shape[0]))]
    single = latency_us(args.single_row_calls, rows, lambda r: bst.inplace_predict(r, missing=np.nan))

    leaves = bst.trees_to_dataframe().groupby("Tree")["Feature"].apply(lambda s: int((s == "Leaf").sum()))
    artifacts = {}
    if args.save_artifacts:
        model_file = os.path.join(args.data, "xgb_model.json")
        bst.save_model(model_file)
        margin = bst.inplace_predict(Xt, missing=np.nan, predict_type="margin")
        prob_inplace.astype("<f8").tofile(os.path.join(args.data, "xgb_pred_test.f64"))
        np.asarray(margin).astype("<f8").tofile(os.path.join(args.data, "xgb_margin_test.f64"))
        artifacts = {"model": model_file, "predTest": os.path.join(args.data, "xgb_pred_test.f64"),
                     "marginTest": os.path.join(args.data, "xgb_margin_test.f64")}

    return {
        "xgbParams": xgb_params,
        "dmatrixSeconds": round(dmatrix_seconds, 3),
        "trainSeconds": round(train_seconds, 3),
        "firstRoundSeconds": round(round_ends[0] - t0, 3),  # includes building the quantile cuts + bin index
        "auc": round(float(auc), 6),
        "logloss": round(float(logloss), 6),
        "peakRssMB": peak_rss_mb(),
        "rssAfterLoadMB": rss_after_load,
        "peakRssAfterTrainMB": rss_after_train,
        "predictRowsPerSec": {"inplace": round(Xt.shape[0] / inplace_s), "dmatrix": round(Xt.shape[0] / dmatrix_s)},
        "predictParityMaxAbs": float(np.max(np.abs(prob_inplace - prob))),
        "singleRowUs": single,
        "trees": int(bst.num_boosted_rounds()),
        "meanLeavesPerTree": round(float(leaves.mean()), 2),
        "artifacts": artifacts,
        "version": xgb.__version__,
    }


def run_hgb(args, meta, params):
    """Child: trains sklearn HistGradientBoostingClassifier, evaluates, times prediction; returns the result dict."""
    import numpy as np
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    X, y = load_split(args.data, meta, "train")
    Xt, yt = load_split(args.data, meta, "test")
    rss_after_load = peak_rss_mb()
    ctor = hgb_params(params)
    clf = HistGradientBoostingClassifier(**ctor)
    t0 = time.perf_counter()
    clf.fit(X, y)  # binning happens inside fit
    train_seconds = time.perf_counter() - t0
    rss_after_train = peak_rss_mb()

    prob = clf.predict_proba(Xt)[:, 1]
    auc = roc_auc_score(yt, prob)
    logloss = log_loss(yt, prob)
    predict_s, _ = best_of(3, lambda: clf.predict_proba(Xt))
    rows = [Xt[i : i + 1] for i in range(min(2000, Xt.shape[0]))]
    single = latency_us(args.single_row_calls, rows, lambda r: clf.predict_proba(r))
    try:
        leaves = [pred[0].get_n_leaf_nodes() for pred in clf._predictors]
        mean_leaves = round(float(np.mean(leaves)), 2)
    except Exception:  # private API; informational only
        mean_leaves = None

    return {
        "hgbParams": ctor,
        "trainSeconds": round(train_seconds, 3),
        "auc": round(float(auc), 6),
        "logloss": round(float(logloss), 6),
        "peakRssMB": peak_rss_mb(),
        "rssAfterLoadMB": rss_after_load,
        "peakRssAfterTrainMB": rss_after_train,
        "predictRowsPerSec": {"predictProba": round(Xt.shape[0] / predict_s)},
        "singleRowUs": single,
        "trees": int(clf.n_iter_),
        "meanLeavesPerTree": mean_leaves,
        "openmpThreads": int(_openmp_effective_n_threads()),
        "version": sklearn.__version__,
    }


def machine_info():
    """Describes the machine a figure was measured on."""
    cpu = "unknown"
    mem_gib = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
        with open("/proc/meminfo") as f:
            kb = next(int(l.split()[1]) for l in f if l.startswith("MemTotal:"))
            mem_gib = round(kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memGiB": mem_gib, "python": platform.python_version(),
            "platform": platform.platform()}


def run_child(args, lib, save_artifacts):
    """Runs one library in a fresh process (OMP_NUM_THREADS = threads) and parses its last stdout line."""
    cmd = [sys.executable, __file__, "--child", lib, "--data", args.data, "--trees", str(args.trees),
           "--leaves", str(args.leaves), "--learning-rate", str(args.learning_rate), "--max-bin", str(args.max_bin),
           "--threads", str(args.threads), "--min-child-weight", str(args.min_child_weight),
           "--lambda-l2", str(args.lambda_l2), "--min-data-in-leaf", str(args.min_data_in_leaf),
           "--base-score", args.base_score, "--single-row-calls", str(args.single_row_calls)]
    if save_artifacts:
        cmd.append("--save-artifacts")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{lib} child failed with exit code {r.returncode}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"  {lib}: train {out['trainSeconds']} s, AUC {out['auc']}, peak RSS {out['peakRssMB']} MB "
          f"(child wall {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return out


def median_merge(samples):
    """Merges per-rep result dicts: numbers → median, dicts → recursively, anything else → first value."""
    first = samples[0]
    if isinstance(first, dict):
        return {k: median_merge([s[k] for s in samples]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        m = statistics.median(samples)
        return round(m, 6) if isinstance(m, float) else m
    return first


def main():
    """Parent: runs the children (interleaved across reps) and prints the merged JSON document."""
    args = parse_cli()
    meta_file = os.path.join(args.data, "meta.json")
    if not os.path.exists(meta_file):
        raise SystemExit(f"no {meta_file}: run `node benchmarks/gbdt/make-data.mjs` first")
    with open(meta_file) as f:
        meta = json.load(f)
    params = shared_params(args)

    if args.child:
        result = run_xgboost(args, meta, params) if args.child == "xgboost" else run_hgb(args, meta, params)
        print(json.dumps(result))
        return

    libs = [args.only] if args.only else list(LIBRARIES)
    runs = {lib: [] for lib in libs}
    for rep in range(args.reps):
        for lib in libs:
            print(f"rep {rep + 1}/{args.reps}: {lib}", file=sys.stderr)
            runs[lib].append(run_child(args, lib, save_artifacts=(rep == 0)))

    doc = {
        "bench": "gbdt-anchor",
        "machine": machine_info(),
        "data": {"dir": args.data, "rows": meta["rows"], "cols": meta["cols"], "trainRows": meta["trainRows"],
                 "testRows": meta["testRows"], "seed": meta["seed"], "bayesTestAuc": meta.get("bayesTestAuc")},
        "params": params,
        "reps": args.reps,
        "versions": {"python": platform.python_version()},
    }
    names = {"xgboost": "xgboost", "hgb": "sklearnHgb"}
    version_names = {"xgboost": "xgboost", "hgb": "sklearn"}
    for lib in libs:
        merged = median_merge(runs[lib])
        merged["trainSecondsSamples"] = [r["trainSeconds"] for r in runs[lib]]
        doc["versions"][version_names[lib]] = merged.pop("version")
        doc[names[lib]] = merged
    import numpy
    doc["versions"]["numpy"] = numpy.__version__

    text = json.dumps(doc, indent=2)
    out = args.out or os.path.join(args.data, "anchor.json")
    with open(out, "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
