#!/usr/bin/env python3
"""XGBoost oracle fixtures for kiln's XGBoost import and export (test/oracle/xgboost/).

  python3 benchmarks/oracles/make_xgboost_fixtures.py            # train + save the three models
  python3 benchmarks/oracles/make_xgboost_fixtures.py --exported # predict kiln's exported files

Default mode trains small seeded models (tree_method hist, float32 data with NaNs) and writes
{binary,multiclass,regression}.json (Booster.save_model) and {name}.expected.json: the input rows
(float32 values as numbers, NaN as null) and XGBoost's own predict() outputs, with and without
output_margin.

--exported loads every test/oracle/xgboost/exported/{name}.json that kiln wrote
(benchmarks/oracles/export_xgboost_fixtures.mjs) with xgb.Booster(model_file=...), predicts the rows
of the fixture the kiln model came from (cast to float32, as XGBoost reads them) and writes
exported/{name}.predictions.json. Names: xgb-<name> come from xgboost/<name>.json, lgb-<name> from
lightgbm/<name>.txt.

Made with xgboost 1.7.4, numpy from Debian python3 packages.
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import xgboost as xgb

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "oracle" / "xgboost"
SEED = 20240611


def rows_json(X):
    return [[None if math.isnan(v) else float(v) for v in row] for row in X.astype(np.float32)]


def values_json(a):
    return np.asarray(a, dtype=np.float64).tolist()


def make_data(rng, n, n_features, nan_rate):
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    X[:, 1] = np.round(X[:, 1] * 2)  # a feature with many ties
    X[rng.random(X.shape) < nan_rate] = np.nan
    return X


def boundary_rows(booster, X_test, count):
    """Test rows whose features sit exactly on split conditions (x == condition must go right)."""
    model = json.loads(booster.save_raw("json"))
    trees = model["learner"]["gradient_booster"]["model"]["trees"]
    rows = []
    for t, tree in enumerate(trees[:count]):
        row = X_test[t % len(X_test)].copy()
        for j, left in enumerate(tree["left_children"]):
            if left != -1:
                row[tree["split_indices"][j]] = np.float32(tree["split_conditions"][j])
        rows.append(row)
    return np.array(rows, dtype=np.float32)


def train_and_save(name, params, rounds, X, y, X_test, feature_names):
    dtrain = xgb.DMatrix(X, label=y, missing=np.nan, feature_names=feature_names)
    booster = xgb.train(dict(params, tree_method="hist", seed=SEED, nthread=1), dtrain, rounds)
    X_eval = np.vstack([X_test, boundary_rows(booster, X_test, 8)])
    deval = xgb.DMatrix(X_eval, missing=np.nan, feature_names=feature_names)
    booster.save_model(str(OUT / f"{name}.json"))
    expected = {
        "xgboost": xgb.__version__,
        "objective": params["objective"],
        "rows": rows_json(X_eval),
        "predict": values_json(booster.predict(deval)),
        "margin": values_json(booster.predict(deval, output_margin=True)),
    }
    (OUT / f"{name}.expected.json").write_text(json.dumps(expected) + "\n")
    size = (OUT / f"{name}.json").stat().st_size
    print(f"{name}: {booster.num_boosted_rounds()} rounds, {size} bytes, {len(X_eval)} rows")
    assert size < 300_000, f"{name}.json is {size} bytes"


def make_fixtures():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    n_features = 6
    X = make_data(rng, 800, n_features, 0.1)
    X_test = make_data(rng, 60, n_features, 0.15)
    Z = np.nan_to_num(X, nan=0.0)
    names = [f"x{i}" for i in range(n_features)]

    logit = 1.5 * Z[:, 0] - Z[:, 1] + np.where(np.isnan(X[:, 2]), 1.0, Z[:, 2] * Z[:, 3])
    y_binary = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    train_and_save("binary", {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3}, 20, X, y_binary, X_test, names)

    score = np.stack([Z[:, 0] + Z[:, 1], Z[:, 2] - Z[:, 0], 0.5 * Z[:, 3] + np.isnan(X[:, 4])], axis=1)
    y_multi = np.argmax(score + rng.gumbel(size=score.shape), axis=1).astype(np.float32)
    train_and_save("multiclass", {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3}, 12, X, y_multi, X_test, None)

    y_reg = (np.sin(Z[:, 0]) + 0.5 * Z[:, 1] - 0.3 * Z[:, 4] * Z[:, 5] + 0.1 * rng.normal(size=len(X))).astype(np.float32)
    train_and_save("regression", {"objective": "reg:squarederror", "max_depth": 4, "eta": 0.2}, 20, X, y_reg, X_test, names)


def predict_exported():
    exported = OUT / "exported"
    models = sorted(p for p in exported.glob("*.json") if not p.name.endswith(".predictions.json"))
    if not models:
        sys.exit(f"no exported models in {exported}; run benchmarks/oracles/export_xgboost_fixtures.mjs first")
    for path in models:
        name = path.stem
        origin, _, base = name.partition("-")
        source = OUT / f"{base}.expected.json" if origin == "xgb" else ROOT / "test" / "oracle" / "lightgbm" / f"{base}.expected.json"
        rows = json.loads(source.read_text())["rows"]
        X = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float32)
        booster = xgb.Booster(model_file=str(path))
        dm = xgb.DMatrix(X, missing=np.nan, feature_names=booster.feature_names)
        out = {
            "xgboost": xgb.__version__,
            "model": path.name,
            "rows": rows_json(X),
            "predict": values_json(booster.predict(dm)),
            "margin": values_json(booster.predict(dm, output_margin=True)),
        }
        (exported / f"{name}.predictions.json").write_text(json.dumps(out) + "\n")
        print(f"{name}: {booster.num_boosted_rounds()} rounds, {len(X)} rows")


if __name__ == "__main__":
    if "--exported" in sys.argv[1:]:
        predict_exported()
    else:
        make_fixtures()
