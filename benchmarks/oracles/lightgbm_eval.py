#!/usr/bin/env python3
"""An independent evaluator of LightGBM text models (LightGBM is not installed on kiln's machines).

  python3 benchmarks/oracles/lightgbm_eval.py model.txt rows.json   # prints {"raw": ..., "predict": ...}

rows.json is a list of rows (null = NaN). It follows LightGBM's prediction rules (include/LightGBM/
tree.h, Tree::NumericalDecision / CategoricalDecision, and the objectives' ConvertOutput):

  numeric node, missing type m = (decision_type >> 2) & 3, default_left = decision_type & 2:
    NaN with m != nan(2) becomes 0.0; if (m == zero(1) and |x| <= 1e-35f) or (m == nan(2) and x is
    NaN) go to the default side; else go left iff x <= threshold.
  categorical node (decision_type & 1): NaN -> right, int(x) < 0 -> right, else left iff bit int(x)
    is set in the node's cat_threshold words [cat_boundaries[t], cat_boundaries[t+1]) with
    t = int(threshold) (LightGBM 4's rule; LightGBM 3 on x86-64 behaves the same).
  raw score of class k: sum over trees i with i % num_tree_per_iteration == k of the leaf value;
    binary: 1 / (1 + exp(-sigmoid * raw)); multiclass: softmax; regression / huber: raw.
Plain Python floats (IEEE double), like LightGBM's double predictions.
"""
import json
import math
import struct
import sys

K_ZERO_THRESHOLD = struct.unpack("f", struct.pack("f", 1e-35))[0]


def parse_model(text):
    lines = text.split("\n")
    if lines[0].strip() != "tree":
        raise ValueError("not a LightGBM text model")
    header, trees, current = {}, [], None
    for line in lines[1:]:
        line = line.strip()
        if line == "end of trees":
            break
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
            continue
        if not line:
            continue
        key, _, value = line.partition("=")
        (current if current is not None else header)[key] = value
    else:
        raise ValueError("no 'end of trees' line")
    return header, [parse_tree(t) for t in trees]


def parse_tree(raw):
    def ints(key):
        return [int(v) for v in raw.get(key, "").split()]

    def floats(key):
        return [float(v) for v in raw.get(key, "").split()]

    return {
        "num_leaves": int(raw["num_leaves"]),
        "split_feature": ints("split_feature"),
        "threshold": floats("threshold"),
        "decision_type": ints("decision_type"),
        "left_child": ints("left_child"),
        "right_child": ints("right_child"),
        "leaf_value": floats("leaf_value"),
        "cat_boundaries": ints("cat_boundaries"),
        "cat_threshold": ints("cat_threshold"),
    }


def numerical_decision(tree, node, x):
    decision = tree["decision_type"][node]
    missing_type = (decision >> 2) & 3
    default_left = (decision & 2) != 0
    if math.isnan(x) and missing_type != 2:
        x = 0.0
    if (missing_type == 1 and -K_ZERO_THRESHOLD <= x <= K_ZERO_THRESHOLD) or (missing_type == 2 and math.isnan(x)):
        return tree["left_child"][node] if default_left else tree["right_child"][node]
    return tree["left_child"][node] if x <= tree["threshold"][node] else tree["right_child"][node]


def categorical_decision(tree, node, x):
    if math.isnan(x):
        return tree["right_child"][node]
    code = int(x)
    if code < 0:
        return tree["right_child"][node]
    t = int(tree["threshold"][node])
    lo, hi = tree["cat_boundaries"][t], tree["cat_boundaries"][t + 1]
    word = code // 32
    if word < hi - lo and (tree["cat_threshold"][lo + word] >> (code % 32)) & 1:
        return tree["left_child"][node]
    return tree["right_child"][node]


def tree_output(tree, row):
    if tree["num_leaves"] == 1:
        return tree["leaf_value"][0]
    node = 0
    while node >= 0:
        x = row[tree["split_feature"][node]]
        if tree["decision_type"][node] & 1:
            node = categorical_decision(tree, node, x)
        else:
            node = numerical_decision(tree, node, x)
    return tree["leaf_value"][~node]


def predict(header, trees, rows):
    k = int(header["num_tree_per_iteration"])
    objective = header["objective"].split()
    raw_all, pred_all = [], []
    for row in rows:
        row = [math.nan if v is None else float(v) for v in row]
        raw = [0.0] * k
        for i, tree in enumerate(trees):
            raw[i % k] += tree_output(tree, row)
        if objective[0] == "binary":
            sigmoid = float(dict(o.split(":") for o in objective[1:]).get("sigmoid", "1"))
            pred = [1.0 / (1.0 + math.exp(-sigmoid * raw[0]))]
        elif objective[0] == "multiclass":
            top = max(raw)
            exps = [math.exp(r - top) for r in raw]
            pred = [e / sum(exps) for e in exps]
        elif objective[0] in ("regression", "huber"):
            pred = raw[:]
        else:
            raise ValueError(f"objective {objective[0]} not handled")
        raw_all.append(raw if k > 1 else raw[0])
        pred_all.append(pred if k > 1 else pred[0])
    return raw_all, pred_all


def main():
    model_path, rows_path = sys.argv[1], sys.argv[2]
    header, trees = parse_model(open(model_path).read())
    raw, pred = predict(header, trees, json.load(open(rows_path)))
    json.dump({"raw": raw, "predict": pred}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
