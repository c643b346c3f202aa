#!/usr/bin/python3
"""Oracle fixtures for kiln's LogisticRegression, computed by scikit-learn.

kiln standardises features inside the model, so the oracle is
    make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight=cw, solver='lbfgs',
                                                       tol=1e-10, max_iter=10000))
and coefficients are compared in the STANDARDISED space: `coef` / `intercept` below are the
pipeline's LogisticRegression.coef_ / intercept_ as they are (kiln's model JSON stores the same
space, with the scaler's mean / scale beside them). sklearn's objective with lbfgs is
    sum_i w_i * logloss_i + 1 / (2 C) * ||coef||^2      (intercept not penalised),
w_i the class weight of row i; kiln minimises the same function divided by the row count.

sklearn's L-BFGS-B also stops on a relative objective change (scipy's ftol), so even with
tol=1e-10 its answer is only ~1e-6 from stationary. Each case therefore stores
  sklearnCoef / sklearnIntercept / sklearnProba   sklearn's answer as it is, and
  coef / intercept / proba                         the exact optimum of the same objective,
                                                   Newton-polished from sklearn's answer,
with sklearnMaxAbsDiff = max |coef - sklearnCoef| (over intercepts too) and gradMaxAbs /
sklearnGradMaxAbs = max-abs gradient of the per-row objective at each. Data are embedded so
tests need no Python and no dataset.

    /usr/bin/python3 benchmarks/oracles/make_logreg_fixture.py      (writes test/oracle/logreg_*.json)
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATASETS = os.path.join(os.path.dirname(ROOT), 'shared', 'datasets', 'sklearn_small')
OUT = os.path.join(ROOT, 'test', 'oracle')
PROBA_ROWS = 25


def load_sklearn_csv(name):
    """sklearn's bundled CSV: first line is `n_samples,n_features,<class names>`, target last."""
    path = os.path.join(DATASETS, name)
    with open(path) as f:
        header = f.readline().strip().split(',')
        text = [line.strip() for line in f if line.strip()]
    rows = [[float(v) for v in line.split(',')] for line in text]
    n, d = int(header[0]), int(header[1])
    arr = np.array(rows, dtype=np.float64)
    assert arr.shape == (n, d + 1), (path, arr.shape)
    return arr[:, :d], arr[:, d].astype(np.int64), text


def objective_gradient(Z, y, coef, intercept, weights, C):
    """Gradient (max-abs) of (1/n) * [sum_i w_i logloss_i + ||coef||^2 / (2C)] at (coef, intercept)."""
    n = Z.shape[0]
    if coef.shape[0] == 1:
        m = Z @ coef[0] + intercept[0]
        p = 1.0 / (1.0 + np.exp(-m))
        r = weights * (p - y)
        g = np.concatenate([Z.T @ r + coef[0] / C, [r.sum()]])
    else:
        m = Z @ coef.T + intercept
        m -= m.max(axis=1, keepdims=True)
        p = np.exp(m)
        p /= p.sum(axis=1, keepdims=True)
        onehot = np.eye(coef.shape[0])[y]
        r = weights[:, None] * (p - onehot)
        g = np.concatenate([(r.T @ Z + coef / C).ravel(), r.sum(axis=0)])
    return float(np.abs(g).max() / n)


def newton_polish(Z, y, coef, intercept, weights, C, steps=50):
    """Exact optimum of the same objective by Newton steps from (coef, intercept).

    scipy's L-BFGS-B inside sklearn also stops on a relative objective change (ftol ~2e-9), which
    leaves a gradient of ~1e-6 here; Newton makes the reference optimal to rounding. The
    min-norm (lstsq) step keeps the multinomial intercepts' sum, which the objective ignores.
    """
    n, d = Z.shape
    k = coef.shape[0]
    Z1 = np.hstack([Z, np.ones((n, 1))])
    theta = np.hstack([coef, intercept[:, None]])
    reg = np.ones(d + 1) / C
    reg[d] = 0.0
    for _ in range(steps):
        if k == 1:
            m = Z1 @ theta[0]
            p = 1.0 / (1.0 + np.exp(-m))
            g = Z1.T @ (weights * (p - y)) + reg * theta[0]
            H = (Z1 * (weights * p * (1 - p))[:, None]).T @ Z1 + np.diag(reg)
            step = np.linalg.lstsq(H, g, rcond=None)[0]
            theta[0] -= step
        else:
            m = Z1 @ theta.T
            m -= m.max(axis=1, keepdims=True)
            p = np.exp(m)
            p /= p.sum(axis=1, keepdims=True)
            r = weights[:, None] * (p - np.eye(k)[y])
            g = (r.T @ Z1 + theta * reg).ravel()
            H = np.zeros((k * (d + 1), k * (d + 1)))
            for a in range(k):
                for b in range(k):
                    c = weights * p[:, a] * ((a == b) - p[:, b])
                    H[a * (d + 1):(a + 1) * (d + 1), b * (d + 1):(b + 1) * (d + 1)] = (Z1 * c[:, None]).T @ Z1
            H += np.diag(np.tile(reg, k))
            step = np.linalg.lstsq(H, g, rcond=None)[0]
            theta -= step.reshape(k, d + 1)
        if np.abs(step).max() < 1e-15:
            break
    return theta[:, :d].copy(), theta[:, d].copy()


def run_case(X, y, C, class_weight):
    cw = class_weight
    if isinstance(class_weight, list):
        cw = {k: w for k, w in enumerate(class_weight)}
    pipe = make_pipeline(StandardScaler(),
                         LogisticRegression(C=C, class_weight=cw, solver='lbfgs', tol=1e-10,
                                            max_iter=10000))
    pipe.fit(X, y)
    scaler, lr = pipe[0], pipe[-1]
    k = int(y.max()) + 1
    if class_weight == 'balanced':
        counts = np.bincount(y, minlength=k)
        weight_of_class = len(y) / (k * counts)
    elif isinstance(class_weight, list):
        weight_of_class = np.array(class_weight, dtype=np.float64)
    else:
        weight_of_class = np.ones(k)
    Z = scaler.transform(X)
    weights = weight_of_class[y]
    lr_coef, lr_intercept = lr.coef_.copy(), lr.intercept_.copy()
    coef, intercept = newton_polish(Z, y, lr.coef_.copy(), lr.intercept_.copy(), weights, C)
    sk_grad = objective_gradient(Z, y, lr.coef_, lr.intercept_, weights, C)
    grad = objective_gradient(Z, y, coef, intercept, weights, C)
    proba = pipe.predict_proba(X[:PROBA_ROWS])
    lr.coef_, lr.intercept_ = coef, intercept
    return {
        'C': C,
        'classWeight': class_weight,
        'classWeightValues': weight_of_class.tolist(),
        'mean': scaler.mean_.tolist(),
        'scale': scaler.scale_.tolist(),
        'coef': coef.tolist(),
        'intercept': intercept.tolist(),
        'gradMaxAbs': grad,
        'sklearnCoef': lr_coef.tolist(),
        'sklearnIntercept': lr_intercept.tolist(),
        'sklearnNIter': int(lr.n_iter_[0]),
        'sklearnGradMaxAbs': sk_grad,
        'sklearnMaxAbsDiff': float(max(np.abs(coef - lr_coef).max(), np.abs(intercept - lr_intercept).max())),
        'probaRows': PROBA_ROWS,
        'proba': pipe.predict_proba(X[:PROBA_ROWS]).tolist(),
        'sklearnProba': proba.tolist(),
    }


def write_fixture(file, dataset, cases):
    X, y, text = load_sklearn_csv(dataset)
    out = {
        'generator': 'benchmarks/oracles/make_logreg_fixture.py',
        'sklearn': sklearn.__version__,
        'numpy': np.__version__,
        'oracle': "make_pipeline(StandardScaler(), LogisticRegression(C, class_weight, solver='lbfgs', tol=1e-10, max_iter=10000))",
        'space': 'standardized',
        'dataset': 'sklearn_small/' + dataset,
        'rows': int(X.shape[0]),
        'cols': int(X.shape[1]),
        'numClass': int(y.max()) + 1,
        'X': [[float(v) for v in line.split(',')[:-1]] for line in text],
        'y': y.tolist(),
        'cases': [run_case(X, y, C, cw) for C, cw in cases],
    }
    path = os.path.join(OUT, file)
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    worst = max(c['gradMaxAbs'] for c in out['cases'])
    diff = max(c['sklearnMaxAbsDiff'] for c in out['cases'])
    print(f'{path}: {os.path.getsize(path)} bytes, worst gradient {worst:.1e}, '
          f'sklearn vs optimum {diff:.1e}', file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)
    write_fixture('logreg_binary.json', 'breast_cancer.csv',
                  [(1.0, None), (0.05, 'balanced'), (3.0, [1.0, 2.5])])
    write_fixture('logreg_multinomial.json', 'wine_data.csv',
                  [(1.0, None), (0.1, 'balanced'), (2.0, [1.0, 0.5, 2.0])])


if __name__ == '__main__':
    main()
