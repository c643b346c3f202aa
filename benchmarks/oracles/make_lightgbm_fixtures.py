#!/usr/bin/env python3
"""Hand-built LightGBM text models and their expected predictions (test/oracle/lightgbm/).

  python3 benchmarks/oracles/make_lightgbm_fixtures.py

LightGBM is not installed here, so the trees are written by hand: each tree is grown by a list of
leaf splits exactly as LightGBM's Tree::Split numbers nodes and leaves (the new internal node gets
index num_leaves - 1, the split leaf keeps its index on the left, the new leaf gets index
num_leaves on the right), and serialised as LightGBM 3's GBDT::SaveModelToString does: the header,
tree_sizes (byte length of each "Tree=i" block), the Tree blocks (17-significant-digit thresholds,
leaf values and weights; 6-digit split gains and internal values), "end of trees",
feature_importances, parameters and pandas_categorical.

Fixtures: binary.txt (NaN-, zero- and none-missing numeric splits, categorical splits on two
features including a two-word bitset, a single-leaf tree), multiclass.txt (3 classes x 4 iterations,
NaN-missing numeric splits), regression.txt and huber.txt (NaN-missing numeric splits). Each
{name}.expected.json holds seeded rows (null = NaN) and the raw scores and predictions of
lightgbm_eval.py, an evaluator that reads the written text back and follows LightGBM's rules.
"""
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightgbm_eval  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "oracle" / "lightgbm"
SEED = 7

NAN_LEFT, NAN_RIGHT = 10, 8  # numeric, missing type nan, default left / right
ZERO_LEFT, ZERO_RIGHT = 6, 4  # numeric, missing type zero
NONE_LEFT, NONE_RIGHT = 2, 0  # numeric, missing type none (default side unused)
CAT_NAN, CAT_NONE = 9, 1  # categorical, missing type nan / none
ZERO_THRESHOLD = struct.unpack("f", struct.pack("f", 1e-35))[0]


def hp(v):
    """LightGBM's high-precision number text (17 significant digits)."""
    return "%.17g" % v


def lp(v):
    """LightGBM's default stream precision (6 significant digits)."""
    return "%g" % v


class Tree:
    def __init__(self, value, count, weight_per_row):
        self.w = weight_per_row
        self.num_leaves = 1
        self.leaf_value, self.leaf_count, self.leaf_weight, self.leaf_parent = [value], [count], [count * self.w], [-1]
        self.split_feature, self.split_gain, self.threshold, self.decision_type = [], [], [], []
        self.left_child, self.right_child = [], []
        self.internal_value, self.internal_weight, self.internal_count = [], [], []
        self.cat_boundaries, self.cat_threshold = [0], []

    def split(self, leaf, feature, threshold, decision_type, left_value, right_value, left_count, right_count, gain, categories=None):
        node = self.num_leaves - 1
        parent = self.leaf_parent[leaf]
        if parent >= 0:
            if self.left_child[parent] == ~leaf:
                self.left_child[parent] = node
            else:
                self.right_child[parent] = node
        if categories is not None:
            words = [0] * (max(categories) // 32 + 1)
            for c in categories:
                words[c // 32] |= 1 << (c % 32)
            threshold = len(self.cat_boundaries) - 1
            self.cat_threshold += words
            self.cat_boundaries.append(len(self.cat_threshold))
        self.split_feature.append(feature)
        self.split_gain.append(gain)
        self.threshold.append(threshold)
        self.decision_type.append(decision_type)
        self.left_child.append(~leaf)
        self.right_child.append(~self.num_leaves)
        self.internal_value.append(self.leaf_value[leaf])
        self.internal_weight.append(self.leaf_weight[leaf])
        self.internal_count.append(left_count + right_count)
        assert left_count + right_count == self.leaf_count[leaf], "counts must add up"
        self.leaf_value[leaf] = left_value
        self.leaf_count[leaf] = left_count
        self.leaf_weight[leaf] = left_count * self.w
        self.leaf_parent[leaf] = node
        self.leaf_value.append(right_value)
        self.leaf_count.append(right_count)
        self.leaf_weight.append(right_count * self.w)
        self.leaf_parent.append(node)
        self.num_leaves += 1
        return self

    def to_string(self, shrinkage):
        num_cat = len(self.cat_boundaries) - 1
        lines = [
            f"num_leaves={self.num_leaves}",
            f"num_cat={num_cat}",
            "split_feature=" + " ".join(str(v) for v in self.split_feature),
            "split_gain=" + " ".join(lp(v) for v in self.split_gain),
            "threshold=" + " ".join(hp(v) for v in self.threshold),
            "decision_type=" + " ".join(str(v) for v in self.decision_type),
            "left_child=" + " ".join(str(v) for v in self.left_child),
            "right_child=" + " ".join(str(v) for v in self.right_child),
            "leaf_value=" + " ".join(hp(v) for v in self.leaf_value),
            "leaf_weight=" + " ".join(hp(v) for v in self.leaf_weight),
            "leaf_count=" + " ".join(str(v) for v in self.leaf_count),
            "internal_value=" + " ".join(lp(v) for v in self.internal_value),
            "internal_weight=" + " ".join(lp(v) for v in self.internal_weight),
            "internal_count=" + " ".join(str(v) for v in self.internal_count),
        ]
        if num_cat > 0:
            lines.append("cat_boundaries=" + " ".join(str(v) for v in self.cat_boundaries))
            lines.append("cat_threshold=" + " ".join(str(v) for v in self.cat_threshold))
        lines += ["is_linear=0", f"shrinkage={lp(shrinkage)}"]
        return "\n".join(lines) + "\n\n"


def model_text(objective, num_class, feature_names, feature_infos, trees, shrinkages, parameters):
    blocks = [f"Tree={i}\n" + tree.to_string(shrinkages[i]) + "\n" for i, tree in enumerate(trees)]
    header = [
        "tree",
        "version=v3",
        f"num_class={num_class}",
        f"num_tree_per_iteration={num_class}",
        "label_index=0",
        f"max_feature_idx={len(feature_names) - 1}",
        f"objective={objective}",
        "feature_names=" + " ".join(feature_names),
        "feature_infos=" + " ".join(feature_infos),
        "tree_sizes=" + " ".join(str(len(b.encode())) for b in blocks),
    ]
    splits = [0] * len(feature_names)
    for tree in trees:
        for f in tree.split_feature:
            splits[f] += 1
    importances = sorted(((n, name) for name, n in zip(feature_names, splits) if n > 0), key=lambda p: -p[0])
    text = "\n".join(header) + "\n\n" + "".join(blocks) + "end of trees\n"
    text += "\nfeature_importances:\n" + "".join(f"{name}={n}\n" for n, name in importances)
    text += "\nparameters:\n" + "".join(f"[{k}: {v}]\n" for k, v in parameters) + "\nend of parameters\n"
    text += "\npandas_categorical:null\n"
    return text


def common_parameters(objective, iterations, extra=()):
    return [
        ("boosting", "gbdt"),
        ("objective", objective),
        ("metric", ""),
        ("tree_learner", "serial"),
        ("device_type", "cpu"),
        ("data", ""),
        ("valid", ""),
        ("num_iterations", str(iterations)),
        ("learning_rate", "0.1"),
        ("num_leaves", "8"),
        ("num_threads", "1"),
        ("deterministic", "1"),
        ("seed", str(SEED)),
        ("max_depth", "-1"),
        ("min_data_in_leaf", "20"),
        ("min_sum_hessian_in_leaf", "0.001"),
        ("lambda_l2", "0"),
        ("max_bin", "255"),
        ("use_missing", "1"),
        *extra,
    ]


def binary_model():
    w = 0.21
    t0 = (Tree(-0.405, 400, w)
          .split(0, 0, 0.25000000000000006, NAN_LEFT, -0.52, -0.18, 240, 160, 31.4)
          .split(0, 3, None, CAT_NAN, -0.61, -0.47, 100, 140, 12.9, categories=[1, 3, 7])
          .split(1, 2, -0.34999999999999998, NONE_RIGHT, -0.25, -0.11, 60, 100, 8.25)
          .split(2, 1, 0.50000000000000011, ZERO_RIGHT, -0.5, -0.44, 80, 60, 3.5))
    t1 = (Tree(0.0, 400, w)
          .split(0, 1, 1.0000000180025095e-35, ZERO_LEFT, -0.061, 0.047, 150, 250, 9.75)
          .split(1, 4, None, CAT_NONE, 0.083, 0.012, 90, 160, 4.1, categories=[2, 33, 40])
          .split(0, 0, -1.2000000000000002, NAN_RIGHT, -0.092, -0.035, 50, 100, 1.25))
    t2 = Tree(0.0131, 400, w)
    t3 = (Tree(0.0, 400, w)
          .split(0, 2, 0.80000000000000016, NONE_LEFT, -0.021, 0.066, 300, 100, 5.5)
          .split(0, 3, None, CAT_NAN, 0.038, -0.044, 120, 180, 2.75, categories=[0, 9])
          .split(1, 0, 1.0000000000000002, NAN_LEFT, 0.071, 0.024, 40, 60, 0.8))
    t4 = (Tree(0.0, 400, w)
          .split(0, 4, None, CAT_NAN, 0.057, -0.019, 130, 270, 3.3, categories=[0, 1, 31, 32])
          .split(1, 1, -0.74999999999999989, ZERO_RIGHT, -0.048, 0.009, 70, 200, 1.1))
    trees = [t0, t1, t2, t3, t4]
    names = ["x0", "x1", "x2", "cat_a", "cat_b"]
    infos = ["[-3.1:2.9]", "[-4:4]", "[-2.5:2.75]", "3:1:0:7:9:2:5:4:8:6", "0:2:1:33:40:31:32:5"]
    params = common_parameters("binary", 5, [("categorical_feature", "3,4"), ("sigmoid", "1")])
    return model_text("binary sigmoid:1", 1, names, infos, trees, [1, 0.1, 0.1, 0.1, 0.1], params)


def multiclass_model():
    w = 0.15
    trees = [
        Tree(-1.02, 300, w).split(0, 0, 0.10000000000000002, NAN_LEFT, -1.2, -0.9, 120, 180, 20.5).split(1, 2, 0.5, NAN_RIGHT, -0.95, -0.8, 90, 90, 6.1),
        Tree(-1.11, 300, w).split(0, 1, -0.50000000000000011, NAN_RIGHT, -1.3, -1.0, 100, 200, 15.2),
        Tree(-1.18, 300, w).split(0, 3, 0.0, NAN_LEFT, -1.25, -1.05, 150, 150, 11.1).split(0, 0, -0.79999999999999993, NAN_LEFT, -1.4, -1.2, 60, 90, 3.2),
        Tree(0.0, 300, w).split(0, 0, 0.35000000000000003, NAN_RIGHT, -0.04, 0.05, 170, 130, 4.4),
        Tree(0.0, 300, w).split(0, 1, 0.70000000000000007, NAN_LEFT, 0.03, -0.06, 200, 100, 3.9).split(0, 3, -1.5, NAN_RIGHT, -0.02, 0.045, 40, 160, 1.6),
        Tree(0.0, 300, w).split(0, 2, -0.20000000000000001, NAN_LEFT, 0.061, -0.017, 110, 190, 2.8),
        Tree(0.0, 300, w).split(0, 2, 1.2000000000000002, NAN_LEFT, 0.02, -0.07, 250, 50, 2.2),
        Tree(-0.004, 300, w),
        Tree(0.0, 300, w).split(0, 0, 0.0, NAN_RIGHT, 0.033, -0.028, 150, 150, 1.9).split(1, 3, 0.65000000000000002, NAN_LEFT, -0.05, 0.01, 80, 70, 0.7),
        Tree(0.0, 300, w).split(0, 3, 0.25, NAN_LEFT, -0.015, 0.025, 160, 140, 1.2),
        Tree(0.0, 300, w).split(0, 0, -0.25, NAN_RIGHT, 0.018, -0.022, 110, 190, 1.05),
        Tree(0.0, 300, w).split(0, 1, 0.0, NAN_LEFT, 0.012, -0.009, 170, 130, 0.55),
    ]
    names = ["m0", "m1", "m2", "m3"]
    infos = ["[-3:3]", "[-2.8:3.1]", "[-3.3:2.6]", "[-2.9:2.9]"]
    params = common_parameters("multiclass", 4, [("num_class", "3")])
    return model_text("multiclass num_class:3", 3, names, infos, trees, [1, 1, 1] + [0.1] * 9, params)


def regression_trees(base):
    w = 1.0
    return [
        Tree(base, 500, w).split(0, 0, 0.0, NAN_LEFT, base - 0.4, base + 0.35, 250, 250, 80.2).split(0, 1, -0.5, NAN_RIGHT, base - 0.6, base - 0.3, 100, 150, 20.1).split(1, 2, 0.75, NAN_LEFT, base + 0.3, base + 0.5, 180, 70, 9.9),
        Tree(0.0, 500, w).split(0, 2, -1.0000000000000002, NAN_RIGHT, -0.07, 0.02, 90, 410, 6.6),
        Tree(0.0, 500, w).split(0, 1, 0.30000000000000004, NAN_LEFT, 0.04, -0.05, 300, 200, 4.2).split(1, 0, 1.5, NAN_LEFT, -0.03, -0.09, 160, 40, 1.3),
    ]


def regression_model():
    trees = regression_trees(1.25)
    names = ["r0", "r1", "r2"]
    infos = ["[-3:3]", "[-3.2:2.7]", "[-2.6:3.4]"]
    return model_text("regression", 1, names, infos, trees, [1, 0.1, 0.1], common_parameters("regression", 3))


def huber_model():
    trees = regression_trees(0.5)
    names = ["r0", "r1", "r2"]
    infos = ["[-3:3]", "[-3.2:2.7]", "[-2.6:3.4]"]
    return model_text("huber", 1, names, infos, trees, [1, 0.1, 0.1], common_parameters("huber", 3, [("alpha", "1.5")]))


def numeric_rows(rng, n, n_features, text):
    """Random values plus the model's own thresholds, zeros, NaNs and values around the zero threshold."""
    thresholds = [float(t) for line in text.splitlines() if line.startswith("threshold=") for t in line[10:].split()]
    X = rng.normal(size=(n, n_features))
    X[rng.random(X.shape) < 0.12] = np.nan
    special = thresholds + [0.0, -0.0, 1e-36, -1e-36, ZERO_THRESHOLD, -ZERO_THRESHOLD, 1e-35, 2e-35, -2e-35, math.nan]
    mask = rng.random(X.shape) < 0.2
    X[mask] = rng.choice(special, size=mask.sum())
    return X


def categorical_column(rng, n, max_code, extra):
    values = rng.integers(0, max_code + 3, size=n).astype(float)
    picks = rng.random(n)
    values[picks < 0.08] = np.nan
    values[(picks >= 0.08) & (picks < 0.14)] = rng.choice(extra, size=((picks >= 0.08) & (picks < 0.14)).sum())
    return values


def write_fixture(name, text, rows):
    path = OUT / f"{name}.txt"
    path.write_text(text)
    header, trees = lightgbm_eval.parse_model(path.read_text())
    rows_json = [[None if math.isnan(v) else float(v) for v in row] for row in rows]
    raw, pred = lightgbm_eval.predict(header, trees, rows_json)
    expected = {"evaluator": "benchmarks/oracles/lightgbm_eval.py", "objective": header["objective"], "rows": rows_json, "raw": raw, "predict": pred}
    (OUT / f"{name}.expected.json").write_text(json.dumps(expected) + "\n")
    print(f"{name}: {len(trees)} trees, {len(rows)} rows, {path.stat().st_size} bytes")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)

    text = binary_model()
    X = numeric_rows(rng, 160, 3, text)
    cat_a = categorical_column(rng, 160, 9, [-1.0, 200.0])
    cat_b = categorical_column(rng, 160, 42, [-3.0, 31.0, 32.0, 33.0, 40.0, 254.0])
    write_fixture("binary", text, np.column_stack([X, cat_a, cat_b]))

    text = multiclass_model()
    write_fixture("multiclass", text, numeric_rows(rng, 120, 4, text))

    text = regression_model()
    write_fixture("regression", text, numeric_rows(rng, 100, 3, text))

    text = huber_model()
    write_fixture("huber", text, numeric_rows(rng, 60, 3, text))


if __name__ == "__main__":
    main()
