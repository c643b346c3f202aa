#!/usr/bin/env python3
"""Anchor of the drift benchmark: the SciPy / NumPy loop users run today.

  --make-data DIR ROWS COLS   writes DIR/drift-<ROWS>x<COLS>-{ref,cur}.f64 (column-major float64,
                              seeded; every 4th current column shifted by 0.05 sd, every 7th scaled
                              by 1.1, the rest from the reference distribution)
  DIR ROWS COLS               per column: scipy.stats.ks_2samp(ref, cur, method='asymp') and PSI over
                              10 reference-quantile bins with np.histogram; prints one JSON line
                              {seconds, ks: [[statistic, pvalue]...], psi: [...]} (loading not timed).
"""
import json
import sys
import time

import numpy as np
from scipy import stats


def paths(d, rows, cols):
    return f'{d}/drift-{rows}x{cols}-ref.f64', f'{d}/drift-{rows}x{cols}-cur.f64'


def make(d, rows, cols):
    rng = np.random.default_rng(7)
    ref = np.empty((cols, rows))
    cur = np.empty((cols, rows))
    for c in range(cols):
        kind = c % 3
        gen = (lambda n: rng.normal(size=n)) if kind == 0 else (lambda n: rng.exponential(size=n)) if kind == 1 else (lambda n: rng.gamma(2.0, size=n))
        ref[c] = gen(rows)
        cur[c] = gen(rows)
        if c % 4 == 0:
            cur[c] += 0.05 * ref[c].std()
        if c % 7 == 0:
            cur[c] *= 1.1
    rp, cp = paths(d, rows, cols)
    ref.tofile(rp)
    cur.tofile(cp)


def psi(ref, cur, n_bins=10, eps=1e-4):
    edges = np.unique(np.quantile(ref, np.arange(1, n_bins) / n_bins))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    r, _ = np.histogram(ref, bins)
    c, _ = np.histogram(cur, bins)
    r = r / r.sum()
    c = c / c.sum()
    r = np.where(r == 0, eps, r)
    c = np.where(c == 0, eps, c)
    return float(np.sum((c - r) * np.log(c / r)))


def main():
    if sys.argv[1] == '--make-data':
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    d, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rp, cp = paths(d, rows, cols)
    ref = np.fromfile(rp).reshape(cols, rows)
    cur = np.fromfile(cp).reshape(cols, rows)
    t0 = time.perf_counter()
    ks, ps = [], []
    for c in range(cols):
        r = stats.ks_2samp(ref[c], cur[c], method='asymp')
        ks.append([float(r.statistic), float(r.pvalue)])
        ps.append(psi(ref[c], cur[c]))
    secs = time.perf_counter() - t0
    print(json.dumps({'seconds': secs, 'ks': ks, 'psi': ps}))


if __name__ == '__main__':
    main()
