#!/usr/bin/python3
"""Oracle fixtures for kiln's src/evaluate metrics and src/models/calibration, by scikit-learn.

Each fixture embeds its inputs (seeded numpy data, so tests need no Python and no dataset) and
what scikit-learn (and, where sklearn has no such function, the numpy formula stated beside it)
returns for them. Written for scikit-learn 1.2 (Debian bookworm's python3-sklearn):

  metrics       accuracy_score, precision_recall_fscore_support (binary / macro / weighted,
                zero_division 0 and 1), confusion_matrix, classification_report(output_dict=True),
                roc_auc_score (binary; multiclass ovr macro / weighted), average_precision_score
                (binary; multiclass = mean of the per-class one-vs-rest scores, as sklearn >= 1.3),
                log_loss (eps='auto'), brier_score_loss, roc_curve, precision_recall_curve,
                calibration_curve(strategy='uniform'), mean_squared_error, mean_absolute_error,
                r2_score
  numpy         expected calibration error (equal-width bins of calibration_curve, weighted by
                count; multiclass: top-label), multiclass Brier (mean over rows of the sum over
                classes), np.histogram
  calibration   sklearn.calibration._sigmoid_calibration (Platt, BFGS) plus the exact optimum of
                the same objective polished by Newton's method; IsotonicRegression(out_of_bounds=
                'clip'); CalibratedClassifierCV(cv='prefit') end to end (one-vs-rest, renormalised)

    /usr/bin/python3 benchmarks/oracles/make_evaluate_fixtures.py   (writes test/oracle/evaluate/*.json)
"""
import json
import os

import numpy as np
import sklearn
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV, _sigmoid_calibration, calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import (accuracy_score, average_precision_score, brier_score_loss, classification_report,
                             confusion_matrix, log_loss, mean_absolute_error, mean_squared_error,
                             precision_recall_curve, precision_recall_fscore_support, r2_score, roc_auc_score,
                             roc_curve)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'oracle', 'evaluate')
BINS = 10


def fl(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def ints(a):
    return [int(v) for v in np.asarray(a).ravel()]


def ece_binary(y, p, n_bins):
    """Count-weighted mean |mean predicted - observed frequency| over the bins of calibration_curve."""
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(bins[1:-1], p)
    total = np.bincount(ids, minlength=n_bins)
    sums = np.bincount(ids, weights=p, minlength=n_bins)
    trues = np.bincount(ids, weights=y, minlength=n_bins)
    nz = total != 0
    return float(np.sum(total[nz] / len(p) * np.abs(sums[nz] / total[nz] - trues[nz] / total[nz]))), ints(total[nz])


def reliability(y, p, n_bins):
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy='uniform')
    ece, counts = ece_binary(y, p, n_bins)
    return {'observedFrequency': fl(prob_true), 'meanPredicted': fl(prob_pred), 'count': counts, 'ece': ece}


def prf_block(y_true, y_pred, labels_default):
    out = {}
    for avg in (['binary'] if labels_default == 'binary' else []) + ['macro', 'weighted', 'micro']:
        for zd in (0, 1):
            p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division=zd)
            out[f'{avg}/{zd}'] = {'precision': float(p), 'recall': float(r), 'f1': float(f)}
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    out['perClass'] = {'precision': fl(p), 'recall': fl(r), 'f1': fl(f), 'support': ints(s)}
    return out


def report(y_true, y_pred):
    rep = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    return {k: ({kk: float(vv) for kk, vv in v.items()} if isinstance(v, dict) else float(v)) for k, v in rep.items()}


def binary_case(name, y, p, threshold=0.5):
    y_pred = (p >= threshold).astype(np.int64)
    fpr, tpr, thr = roc_curve(y, p)
    fpr_all, tpr_all, thr_all = roc_curve(y, p, drop_intermediate=False)
    prec, rec, pthr = precision_recall_curve(y, p)
    hist, edges = np.histogram(p, bins=BINS, range=(0.0, 1.0))
    return {
        'name': name,
        'y': ints(y),
        'p': fl(p),
        'threshold': threshold,
        'yPred': ints(y_pred),
        'accuracy': float(accuracy_score(y, y_pred)),
        'prf': prf_block(y, y_pred, 'binary'),
        'confusion': confusion_matrix(y, y_pred).tolist(),
        'report': report(y, y_pred),
        'rocAuc': float(roc_auc_score(y, p)),
        'averagePrecision': float(average_precision_score(y, p)),
        'logLoss': float(log_loss(y, p)),
        'brier': float(brier_score_loss(y, p)),
        'rocCurve': {'fpr': fl(fpr), 'tpr': fl(tpr), 'thresholds': fl(thr[1:])},
        'rocCurveAll': {'fpr': fl(fpr_all), 'tpr': fl(tpr_all), 'thresholds': fl(thr_all[1:])},
        'prCurve': {'precision': fl(prec), 'recall': fl(rec), 'thresholds': fl(pthr)},
        'reliability': reliability(y, p, BINS),
        'reliability5': reliability(y, p, 5),
        'histogram': {'edges': fl(edges), 'counts': ints(hist),
                      'byClass': [ints(np.histogram(p[y == k], bins=BINS, range=(0.0, 1.0))[0]) for k in (0, 1)]},
    }


def multiclass_case(name, y, P):
    K = P.shape[1]
    y_pred = np.argmax(P, axis=1)
    conf = P.max(axis=1)
    correct = (y_pred == y).astype(np.float64)
    ece, counts = ece_binary(correct, conf, BINS)
    onehot = np.eye(K)[y]
    ap = [float(average_precision_score((y == k).astype(int), P[:, k])) for k in range(K)]
    return {
        'name': name,
        'numClass': K,
        'y': ints(y),
        'p': fl(P),
        'yPred': ints(y_pred),
        'accuracy': float(accuracy_score(y, y_pred)),
        'prf': prf_block(y, y_pred, 'multiclass'),
        'confusion': confusion_matrix(y, y_pred, labels=list(range(K))).tolist(),
        'report': report(y, y_pred),
        'rocAucMacro': float(roc_auc_score(y, P, multi_class='ovr', average='macro')),
        'rocAucWeighted': float(roc_auc_score(y, P, multi_class='ovr', average='weighted')),
        'averagePrecisionPerClass': ap,
        'averagePrecisionMacro': float(np.mean(ap)),
        'logLoss': float(log_loss(y, P)),
        'brier': float(np.mean(np.sum((P - onehot) ** 2, axis=1))),
        'ece': ece,
        'eceCounts': counts,
    }


class Fixed(ClassifierMixin, BaseEstimator):
    """A 'prefit' classifier whose scores are given: X[:, 0] is the row index into `scores`."""

    def __init__(self, scores=None, use_decision=False):
        self.scores = scores
        self.use_decision = use_decision

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return self.scores[X[:, 0].astype(int)]


class FixedDecision(Fixed):
    def decision_function(self, X):
        return self.scores[X[:, 0].astype(int)]


def platt_newton(F, y, a, b):
    """Exact optimum of _sigmoid_calibration's objective from (a, b), by Newton's method."""
    prior0 = float(np.sum(y <= 0))
    prior1 = len(y) - prior0
    T = np.where(y > 0, (prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0))
    ab = np.array([a, b])
    for _ in range(50):
        P = expit(-(ab[0] * F + ab[1]))
        r = T - P
        g = np.array([r @ F, r.sum()])
        w = P * (1 - P)
        H = np.array([[w @ (F * F), w @ F], [w @ F, w.sum()]])
        step = np.linalg.solve(H, g)
        ab = ab - step
        if np.max(np.abs(step)) < 1e-15:
            break
    P = expit(-(ab[0] * F + ab[1]))
    r = T - P
    return float(ab[0]), float(ab[1]), float(np.max(np.abs([r @ F, r.sum()])))


def logit(p):
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(q) - np.log1p(-q)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240605)
    files = {}

    # Binary, balanced, scores rounded to 2 decimals (ties), a few exact 0 and 1.
    n = 400
    y = rng.integers(0, 2, n)
    p = np.clip(expit(1.3 * (y - 0.5) * 2 + rng.normal(0, 1.2, n)), 0, 1).round(2)
    p[:3] = [0.0, 1.0, 0.5]
    files['binary_balanced'] = binary_case('binary balanced, ties', y, p)

    # Binary, imbalanced (~6% positives), scores on a coarse grid (many ties), threshold 0.3.
    n = 600
    y = (rng.random(n) < 0.06).astype(np.int64)
    p = np.clip(expit(-2.5 + 2.0 * y + rng.normal(0, 1.0, n)), 0, 1).round(1)
    files['binary_imbalanced'] = binary_case('binary imbalanced, heavy ties', y, p, threshold=0.3)

    # Edge: nothing predicted positive (zero division), perfect ranking ties.
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0])
    p = np.array([0.1, 0.2, 0.4, 0.4, 0.4, 0.45, 0.05, 0.2])
    files['binary_edge'] = binary_case('binary edge: no predicted positives at 0.5', y, p)

    # Multiclass K=4; class 3 is rare and never the argmax for some seeds; rows repeat (ties).
    n, K = 500, 4
    y = rng.choice(K, n, p=[0.4, 0.3, 0.2, 0.1])
    logits = rng.normal(0, 1, (n, K)) + 1.5 * np.eye(K)[y]
    logits[:, 3] -= 1.0
    P = np.exp(logits)
    P /= P.sum(axis=1, keepdims=True)
    P[50:80] = P[20:50]
    y[50:80] = y[20:50][::-1]
    files['multiclass'] = multiclass_case('multiclass K=4 with repeated rows', y, P)

    # Regression, plus a constant target.
    n = 300
    yt = rng.normal(10, 3, n)
    yp = yt + rng.normal(0, 1.5, n)
    const = np.full(5, 2.0)
    files['regression'] = {
        'y': fl(yt), 'pred': fl(yp),
        'rmse': float(mean_squared_error(yt, yp, squared=False)),
        'mse': float(mean_squared_error(yt, yp)),
        'mae': float(mean_absolute_error(yt, yp)),
        'r2': float(r2_score(yt, yp)),
        'constY': fl(const), 'constPred': fl(const + np.array([0, 0, 0, 0, 1.0])),
        'constR2': float(r2_score(const, const + np.array([0, 0, 0, 0, 1.0]))),
        'constR2Perfect': float(r2_score(const, const)),
    }

    # Platt on margins: sklearn's BFGS answer and the exact optimum.
    n = 800
    y = rng.integers(0, 2, n)
    F = 0.8 * (2 * y - 1) + rng.normal(0, 1.5, n)
    F[:40] = np.round(F[:40], 1)
    a, b = _sigmoid_calibration(F, y)
    ea, eb, egrad = platt_newton(F, y, a, b)
    Ft = np.linspace(-6, 6, 25)
    files['platt'] = {
        'F': fl(F), 'y': ints(y),
        'sklearnA': float(a), 'sklearnB': float(b),
        'exactA': ea, 'exactB': eb, 'exactGradMaxAbs': egrad,
        'testF': fl(Ft), 'sklearnPredict': fl(expit(-(a * Ft + b))), 'exactPredict': fl(expit(-(ea * Ft + eb))),
    }

    # Isotonic with tied x, clipped out of bounds.
    n = 700
    x = np.round(rng.random(n), 2)
    yy = (rng.random(n) < x ** 2).astype(np.float64)
    iso = IsotonicRegression(out_of_bounds='clip').fit(x, yy)
    xt = np.concatenate([[-0.5, 0.0, 1.0, 1.5], np.linspace(0, 1, 41), iso.X_thresholds_[:10], rng.random(20)])
    files['isotonic'] = {
        'x': fl(x), 'y': fl(yy),
        'xThresholds': fl(iso.X_thresholds_), 'yThresholds': fl(iso.y_thresholds_),
        'testX': fl(xt), 'predict': fl(iso.predict(xt)),
    }

    # CalibratedClassifierCV(cv='prefit') end to end, binary and multiclass, both methods.
    def calibrated(scores_cal, y_cal, scores_test, method, decision):
        est_cls = FixedDecision if decision else Fixed
        allscores = np.concatenate([scores_cal, scores_test])
        if allscores.ndim == 1 and not decision:
            allscores = np.column_stack([1 - allscores, allscores])
        est = est_cls(scores=allscores).fit(np.zeros((2, 1)), np.unique(y_cal))
        cc = CalibratedClassifierCV(est, cv='prefit', method=method)
        idx_cal = np.arange(len(scores_cal))[:, None]
        idx_test = (len(scores_cal) + np.arange(len(scores_test)))[:, None]
        cc.fit(idx_cal, y_cal)
        return cc.predict_proba(idx_test)

    nc, nt, K = 600, 200, 3
    yc = rng.choice(K, nc)
    yt3 = rng.choice(K, nt)
    def probs(yv):
        lg = rng.normal(0, 1, (len(yv), K)) + 2.2 * np.eye(K)[yv]
        e = np.exp(lg)
        return e / e.sum(axis=1, keepdims=True)
    Pc, Pt = probs(yc), probs(yt3)
    Pc[:60] = np.round(Pc[:60], 2)
    yb_c = (yc == 0).astype(np.int64)
    yb_t = (yt3 == 0).astype(np.int64)
    pb_c = np.round(Pc[:, 0] ** 1.5, 3)
    pb_t = np.round(Pt[:, 0] ** 1.5, 3)
    cal = {'numClass': K, 'yCal': ints(yc), 'pCal': fl(Pc), 'pTest': fl(Pt),
           'yBinaryCal': ints(yb_c), 'pBinaryCal': fl(pb_c), 'pBinaryTest': fl(pb_t)}
    for method in ('isotonic', 'sigmoid'):
        # isotonic on probabilities (predict_proba); sigmoid on logits (decision_function).
        decision = method == 'sigmoid'
        tr = logit if decision else (lambda v: v)
        pm = calibrated(tr(Pc), yc, tr(Pt), method, decision)
        pbin = calibrated(tr(pb_c), yb_c, tr(pb_t), method, decision)
        cal[method] = {'multiclass': fl(pm), 'binary': fl(pbin[:, 1])}
    files['calibrated_classifier'] = cal

    for name, obj in files.items():
        obj['sklearnVersion'] = sklearn.__version__
        with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
            json.dump(obj, f, separators=(',', ':'))
            f.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT, f'{n}.json')) for n in files)
    print(f'wrote {len(files)} fixtures to {OUT} ({total} bytes)')


if __name__ == '__main__':
    main()
