#!/usr/bin/python3
"""Anchor of bench-logreg.mjs: fits make_pipeline(StandardScaler(), LogisticRegression(lbfgs)) on
the raw row-major float32 matrix + uint8 labels written by the benchmark, prints one JSON line:
fit seconds (scaler + LR, data already in memory), iterations, coefficients in the standardised
space and the mean training log-loss.

    /usr/bin/python3 benchmarks/linear/sklearn_logreg.py DATA.f32 LABELS.u8 ROWS COLS C MAX_ITER
"""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main():
    data, labels, rows, cols, c, max_iter = sys.argv[1:7]
    rows, cols, c, max_iter = int(rows), int(cols), float(c), int(max_iter)
    X = np.fromfile(data, dtype=np.float32, count=rows * cols).reshape(rows, cols)
    y = np.fromfile(labels, dtype=np.uint8, count=rows)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c, solver='lbfgs', max_iter=max_iter))
    t0 = time.perf_counter()
    pipe.fit(X, y)
    seconds = time.perf_counter() - t0
    p = pipe.predict_proba(X)[:, 1]
    lr = pipe[-1]
    print(json.dumps({
        'sklearn': sklearn.__version__,
        'fitSeconds': seconds,
        'nIter': int(lr.n_iter_[0]),
        'coef': lr.coef_[0].tolist(),
        'intercept': float(lr.intercept_[0]),
        'logLoss': float(log_loss(y, p)),
    }))


if __name__ == '__main__':
    main()
