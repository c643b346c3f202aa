#!/usr/bin/env python3
"""Prepares the real data sets (adult, bank_marketing) for kiln's GBDT benchmarks and computes the
AUC anchors kiln must match (within 0.005): categoricals → integer codes in sorted train order
(missing / unseen → NaN), numerics → float32, raw row-major little-endian files + meta.json in
benchmarks/.data/<name>/, then XGBoost 1.7 `hist` (and sklearn HGB for reference) trained with the
same parameter builders as anchor.py, features passed both as plain numeric codes and as native
categoricals. Prints one JSON document.

  /usr/bin/python3 benchmarks/gbdt/prep-real.py [--only adult|bank_marketing] [--trees 100] [--leaves 31]
"""
import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")  # before sklearn / xgboost load OpenMP

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anchor import DATA_DIR, hgb_params, machine_info, xgboost_params  # noqa: E402  (same params as the synthetic anchor)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DATASETS_DIR = REPO_ROOT.parent / "shared" / "datasets"
SPLIT_SEED = 42

# Per data set: source files, separator, label column and positive value, dropped columns,
# categorical columns (everything else except the label is numeric).
DATASETS = {
    "adult": {
        "train": "adult/adult.data.csv",
        "test": "adult/adult.test.csv",
        "sep": ",",
        "missing": ["?"],
        "label": "class",
        "positive": ">50K",
        "drop": [],
        "categorical": ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
                        "native-country"],
    },
    "bank_marketing": {
        "file": "bank_marketing/bank-full.csv",
        "sep": ";",
        "missing": [],  # `unknown` is a category value, not missing
        "label": "y",
        "positive": "yes",
        "drop": ["duration"],  # leaks the target
        "categorical": ["job", "marital", "education", "default", "housing", "loan", "contact", "month", "poutcome"],
    },
}

EXAMPLE = """examples:
  /usr/bin/python3 benchmarks/gbdt/prep-real.py
  /usr/bin/python3 benchmarks/gbdt/prep-real.py --only adult --trees 100 --leaves 31
"""


def parse_cli():
    """Parses the command line."""
    p = argparse.ArgumentParser(description="Encode adult / bank_marketing for kiln and compute XGBoost AUC anchors.",
                                epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=list(DATASETS), help="prepare one data set only")
    p.add_argument("--datasets", default=str(DATASETS_DIR), help=f"shared datasets folder (default {DATASETS_DIR})")
    p.add_argument("--trees", type=int, default=100, help="boosting rounds (default 100)")
    p.add_argument("--leaves", type=int, default=31, help="max leaves per tree (default 31)")
    p.add_argument("--learning-rate", type=float, default=0.1, help="shrinkage (default 0.1)")
    p.add_argument("--max-bin", type=int, default=255, help="histogram bins per feature (default 255)")
    p.add_argument("--threads", type=int, default=2, help="threads (default 2)")
    p.add_argument("--min-child-weight", type=float, default=1e-3, help="min hessian sum per leaf (default 1e-3)")
    p.add_argument("--lambda-l2", type=float, default=0.0, help="L2 on leaf weights (default 0)")
    p.add_argument("--min-data-in-leaf", type=int, default=20, help="HGB min_samples_leaf; XGBoost has no equivalent (default 20)")
    p.add_argument("--base-score", default="mean", help="'mean' (train positive rate) or a probability (default mean)")
    p.add_argument("--out", help="also write the JSON here (default benchmarks/.data/real-anchors.json)")
    return p.parse_args()


def sha256(path):
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_csv(path, spec):
    """Reads one source CSV as strings-or-numbers with only the spec's missing markers treated as missing."""
    return pd.read_csv(path, sep=spec["sep"], na_values=spec["missing"], keep_default_na=False, skipinitialspace=True)


def labels_of(frame, spec):
    """0/1 float32 labels; strips a trailing '.' (as in some copies of adult.test) and rejects unknown values."""
    raw = frame[spec["label"]].astype(str).str.strip().str.rstrip(".")
    values = set(raw.unique())
    negatives = values - {spec["positive"]}
    if len(negatives) != 1:
        raise SystemExit(f"label {spec['label']}: expected one positive ({spec['positive']}) and one negative value, got {sorted(values)}")
    return (raw == spec["positive"]).to_numpy(np.float32), sorted(negatives)[0]


def load_splits(name, spec, datasets_dir):
    """Returns (train frame, test frame, split description, source files, train/test row indices or None)."""
    if "train" in spec:
        train_file, test_file = os.path.join(datasets_dir, spec["train"]), os.path.join(datasets_dir, spec["test"])
        split = {"kind": "given", "train": spec["train"], "test": spec["test"]}
        return read_csv(train_file, spec), read_csv(test_file, spec), split, [train_file, test_file], None
    from sklearn.model_selection import train_test_split

    file = os.path.join(datasets_dir, spec["file"])
    frame = read_csv(file, spec)
    y, _ = labels_of(frame, spec)
    train_idx, test_idx = train_test_split(np.arange(len(frame)), test_size=0.2, stratify=y, random_state=SPLIT_SEED)
    split = {"kind": "stratified", "testFraction": 0.2, "seed": SPLIT_SEED,
             "how": "sklearn.model_selection.train_test_split(arange(n), test_size=0.2, stratify=y, random_state=42); "
                    "row order = returned order; train_rows.u32 / test_rows.u32 hold 0-based CSV data-row indices"}
    frame_train = frame.iloc[train_idx].reset_index(drop=True)
    frame_test = frame.iloc[test_idx].reset_index(drop=True)
    return frame_train, frame_test, split, [file], (train_idx, test_idx)


def encode(train, test, spec):
    """Encodes features: categoricals → codes of sorted train categories (missing/unseen → NaN), numerics → float32."""
    features = [c for c in train.columns if c != spec["label"] and c not in spec["drop"]]
    missing_cats = [c for c in spec["categorical"] if c not in features]
    if missing_cats:
        raise SystemExit(f"categorical columns not found: {missing_cats}")
    categories, unseen = {}, {}
    X_train = np.empty((len(train), len(features)), dtype=np.float32)
    X_test = np.empty((len(test), len(features)), dtype=np.float32)
    for j, col in enumerate(features):
        if col in spec["categorical"]:
            values = sorted(str(v) for v in train[col].dropna().unique())  # Unicode code-point order
            code = {v: float(i) for i, v in enumerate(values)}
            categories[col] = values
            for X, frame in ((X_train, train), (X_test, test)):
                X[:, j] = [np.nan if pd.isna(v) else code.get(str(v), np.nan) for v in frame[col]]
            unseen[col] = int(sum(1 for v in test[col] if not pd.isna(v) and str(v) not in code))
        else:
            for X, frame in ((X_train, train), (X_test, test)):
                X[:, j] = pd.to_numeric(frame[col], errors="raise").to_numpy(np.float32)
    return features, categories, unseen, X_train, X_test


def write_raw(path, array, dtype):
    """Writes an array as raw little-endian bytes of dtype."""
    np.ascontiguousarray(array, dtype=dtype).tofile(path)


def train_and_score(X, y, Xt, yt, feature_types, args):
    """Trains XGBoost hist and sklearn HGB with codes and with native categoricals; returns AUC/log-loss per variant."""
    import xgboost as xgb
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import log_loss, roc_auc_score

    params = {"trees": args.trees, "leaves": args.leaves, "learningRate": args.learning_rate, "maxBin": args.max_bin,
              "threads": args.threads, "minChildWeight": args.min_child_weight, "lambdaL2": args.lambda_l2,
              "minDataInLeaf": args.min_data_in_leaf, "baseScore": args.base_score}
    xgb_params = xgboost_params(params, float(y.mean()))
    results, models = {"xgboost": {}, "sklearnHgb": {}}, {}
    for variant, categorical in (("codes", False), ("categorical", True)):
        dtrain = xgb.DMatrix(X, label=y, missing=np.nan, nthread=args.threads,
                             feature_types=feature_types if categorical else None, enable_categorical=categorical)
        dtest = xgb.DMatrix(Xt, label=yt, missing=np.nan, nthread=args.threads,
                            feature_types=feature_types if categorical else None, enable_categorical=categorical)
        t0 = time.perf_counter()
        bst = xgb.train(xgb_params, dtrain, num_boost_round=args.trees)
        seconds = time.perf_counter() - t0
        prob = bst.predict(dtest)
        results["xgboost"][variant] = {"auc": round(float(roc_auc_score(yt, prob)), 6),
                                       "logloss": round(float(log_loss(yt, prob.astype(np.float64))), 6),
                                       "trainSeconds": round(seconds, 3)}
        models[variant] = (bst, prob)

        mask = np.array([t == "c" for t in feature_types]) if categorical else None
        clf = HistGradientBoostingClassifier(**hgb_params(params), categorical_features=mask)
        t0 = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t0
        prob = clf.predict_proba(Xt)[:, 1]
        results["sklearnHgb"][variant] = {"auc": round(float(roc_auc_score(yt, prob)), 6),
                                          "logloss": round(float(log_loss(yt, prob)), 6),
                                          "trainSeconds": round(seconds, 3)}
    return xgb_params, hgb_params(params), results, models


def prepare(name, spec, args):
    """Encodes one data set, writes its files, trains the anchors; returns its JSON section."""
    train, test, split, sources, row_idx = load_splits(name, spec, args.datasets)
    y, negative = labels_of(train, spec)
    yt, _ = labels_of(test, spec)
    features, categories, unseen, X, Xt = encode(train, test, spec)
    out = os.path.join(DATA_DIR, name)
    os.makedirs(out, exist_ok=True)
    write_raw(os.path.join(out, "train_X.f32"), X, "<f4")
    write_raw(os.path.join(out, "train_y.f32"), y, "<f4")
    write_raw(os.path.join(out, "test_X.f32"), Xt, "<f4")
    write_raw(os.path.join(out, "test_y.f32"), yt, "<f4")
    if row_idx is not None:
        write_raw(os.path.join(out, "train_rows.u32"), row_idx[0], "<u4")
        write_raw(os.path.join(out, "test_rows.u32"), row_idx[1], "<u4")

    feature_types = ["c" if f in spec["categorical"] else "q" for f in features]
    xgb_params, hgb_ctor, results, models = train_and_score(X, y, Xt, yt, feature_types, args)
    bst, prob = models["codes"]
    bst.save_model(os.path.join(out, "xgb_model.json"))
    prob.astype("<f8").tofile(os.path.join(out, "xgb_pred_test.f64"))
    bst_cat, prob_cat = models["categorical"]
    bst_cat.save_model(os.path.join(out, "xgb_model_categorical.json"))
    prob_cat.astype("<f8").tofile(os.path.join(out, "xgb_pred_test_categorical.f64"))

    meta = {
        "name": name,
        "generator": "benchmarks/gbdt/prep-real.py",
        "sources": {os.path.relpath(s, args.datasets): sha256(s) for s in sources},
        "rows": len(train) + len(test),
        "trainRows": len(train),
        "testRows": len(test),
        "cols": len(features),
        "featureNames": features,
        "featureTypes": feature_types,
        "categorical": [f for f in features if f in spec["categorical"]],
        "categories": categories,
        "unseenTestValues": unseen,
        "dropped": spec["drop"],
        "label": {"column": spec["label"], "positive": spec["positive"], "negative": negative,
                  "trainPositiveRate": round(float(y.mean()), 5), "testPositiveRate": round(float(yt.mean()), 5)},
        "missing": {"markers": spec["missing"], "encodedAs": "NaN",
                    "trainNanFraction": round(float(np.isnan(X).mean()), 5),
                    "testNanFraction": round(float(np.isnan(Xt).mean()), 5)},
        "split": split,
        "layout": "row-major",
        "dtype": "float32",
        "byteOrder": "little-endian",
        "files": {"trainX": "train_X.f32", "trainY": "train_y.f32", "testX": "test_X.f32", "testY": "test_y.f32",
                  **({"trainRows": "train_rows.u32", "testRows": "test_rows.u32"} if row_idx is not None else {})},
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        f.write(json.dumps(meta, indent=2) + "\n")
    section = {"dir": out, "trainRows": len(train), "testRows": len(test), "cols": len(features),
               "xgbBaseScore": xgb_params["base_score"],
               "categorical": meta["categorical"], "unseenTestValues": unseen, **results}
    with open(os.path.join(out, "anchor.json"), "w") as f:
        f.write(json.dumps({"xgbParams": xgb_params, "hgbParams": hgb_ctor, **section}, indent=2) + "\n")
    print(f"  {name}: XGBoost AUC codes {results['xgboost']['codes']['auc']}, categorical "
          f"{results['xgboost']['categorical']['auc']} → {out}", file=sys.stderr)
    return xgb_params, hgb_ctor, section


def main():
    """Prepares the selected data sets and prints the anchors as one JSON document."""
    import sklearn
    import xgboost

    args = parse_cli()
    names = [args.only] if args.only else list(DATASETS)
    doc = {"bench": "gbdt-real-anchors", "machine": machine_info(),
           "versions": {"xgboost": xgboost.__version__, "sklearn": sklearn.__version__, "pandas": pd.__version__,
                        "numpy": np.__version__}}
    for name in names:
        print(f"preparing {name}", file=sys.stderr)
        xgb_params, hgb_ctor, section = prepare(name, DATASETS[name], args)
        doc.setdefault("xgbParams", {k: v for k, v in xgb_params.items() if k != "base_score"})
        doc["xgbParams"]["base_score"] = "train positive rate" if args.base_score == "mean" else float(args.base_score)
        doc.setdefault("hgbParams", hgb_ctor)
        doc[name] = section
    doc["xgbParams"]["categoricalVariant"] = "enable_categorical=True, feature_types 'c' for categoricals, max_cat_to_onehot=4 (1.7 default)"
    text = json.dumps(doc, indent=2)
    out = args.out or os.path.join(DATA_DIR, "real-anchors.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
