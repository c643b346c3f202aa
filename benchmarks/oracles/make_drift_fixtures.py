#!/usr/bin/env python3
"""Writes test/oracle/drift/*.json: the drift oracles of kiln's native drift kernels.

  ks.json       two-sample KS statistic and asymptotic p-value from scipy.stats.ks_2samp(
                method='asymp') on seeded samples (ties, shifts, scale changes, unequal sizes), plus a
                grid of (d, n1, n2) -> p-value over every regime of scipy's kstwo (n from 1 to 10^7).
  binned.json   PSI / KL / JS / chi-square / Wasserstein-1 of seeded samples on reference-quantile
                bins, computed here with numpy (reference computation below) and
                scipy.stats.chi2_contingency(correction=False), scipy.stats.wasserstein_distance.
  counts.json   the same binned statistics on categorical count vectors (with an unseen bucket).

Run: /usr/bin/python3 benchmarks/oracles/make_drift_fixtures.py   (scipy 1.10, numpy 1.24)
"""
import json
import os

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'oracle', 'drift')
EPS = 1e-4


def ref_bins(ref, n_bins):
    """Interior edges: numpy 'linear' quantiles at i/n_bins, duplicates merged."""
    q = np.array([i / n_bins for i in range(1, n_bins)])
    return np.unique(np.quantile(ref, q))


@np.errstate(divide="ignore", invalid="ignore")
def binned(ref_counts, cur_counts, eps=EPS):
    r0 = ref_counts / ref_counts.sum()
    c0 = cur_counts / cur_counts.sum()
    r = np.where(ref_counts > 0, r0, eps)
    c = np.where(cur_counts > 0, c0, eps)
    psi = float(np.sum((c - r) * np.log(c / r)))
    kl = float(np.sum(r * np.log(r / c)))
    m = (r0 + c0) / 2
    js = 0.5 * float(np.sum(np.where(r0 > 0, r0 * np.log(np.where(r0 > 0, r0, 1) / m), 0))) + \
        0.5 * float(np.sum(np.where(c0 > 0, c0 * np.log(np.where(c0 > 0, c0, 1) / m), 0)))
    keep = (ref_counts + cur_counts) > 0
    table = np.vstack([ref_counts[keep], cur_counts[keep]])
    if table.shape[1] > 1:
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
        v = float(np.sqrt(chi2 / table.sum()))
    else:
        chi2, p, dof, v = 0.0, 1.0, 0, 0.0
    return {'psi': psi, 'kl': kl, 'js': js, 'chi2': float(chi2), 'chi2PValue': float(p), 'chi2Dof': int(dof), 'cramersV': v}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261123)

    # ---- KS on samples
    samples = []
    def add(name, a, b):
        r = stats.ks_2samp(a, b, method='asymp')
        samples.append({'name': name, 'a': a.tolist(), 'b': b.tolist(), 'statistic': float(r.statistic), 'pValue': float(r.pvalue)})
    add('same-normal-500', rng.normal(size=500), rng.normal(size=500))
    add('shift-0.2-800-1200', rng.normal(size=800), rng.normal(0.2, 1, size=1200))
    add('scale-1.5-1000', rng.normal(size=1000), rng.normal(0, 1.5, size=1000))
    add('ties-rounded', np.round(rng.normal(size=1500), 1), np.round(rng.normal(0.05, 1, size=900), 1))
    add('integers-poisson', rng.poisson(3, size=2000).astype(float), rng.poisson(3.2, size=1700).astype(float))
    add('tiny-7-11', rng.normal(size=7), rng.normal(0.5, 1, size=11))
    add('small-30-50', rng.normal(size=30), rng.normal(0.3, 1, size=50))
    add('small-100-140', rng.uniform(size=100), rng.uniform(0.05, 1.05, size=140))
    add('disjoint', rng.uniform(0, 1, size=300), rng.uniform(2, 3, size=200))
    add('heavy-tail', rng.standard_cauchy(size=1200), rng.standard_cauchy(size=1300) * 1.1)
    add('exp-2500', rng.exponential(size=2500), rng.exponential(1.05, size=2500))

    # ---- p-value grid over kstwo's regimes (ks_2samp asymp uses kstwo.sf(d, round(n1 n2/(n1+n2))))
    grid = []
    for (n1, n2) in [(3, 4), (10, 10), (40, 60), (150, 300), (200, 200), (1000, 1000), (5000, 20000),
                     (100000, 100000), (200000, 300000), (1000000, 1000000), (2500000, 2000000), (10000000, 10000000)]:
        m, n = sorted([float(n1), float(n2)], reverse=True)
        en = int(np.round(m * n / (m + n)))
        for z in [0.3, 0.5, 0.7, 0.9, 1.0, 1.2, 1.36, 1.5, 1.8, 2.0, 2.5, 3.0, 4.0, 6.0]:
            d = z / np.sqrt(en)
            if d >= 1:
                continue
            grid.append({'d': float(d), 'n1': n1, 'n2': n2, 'pValue': float(stats.kstwo.sf(d, en))})
        for d in [0.5, 0.75, 1.0 / en + 1e-9 if en > 1 else 0.6]:
            if 0 < d <= 1:
                grid.append({'d': float(d), 'n1': n1, 'n2': n2, 'pValue': float(stats.kstwo.sf(d, en))})

    with open(os.path.join(OUT, 'ks.json'), 'w') as f:
        json.dump({'generator': 'benchmarks/oracles/make_drift_fixtures.py', 'scipy': scipy.__version__, 'numpy': np.__version__,
                   'samples': samples, 'grid': grid}, f)

    # ---- binned statistics on samples
    cases = []
    def addb(name, ref, cur, n_bins):
        edges = ref_bins(ref, n_bins)
        rc = np.bincount(np.searchsorted(edges, ref, side='left'), minlength=len(edges) + 1).astype(float)
        cc = np.bincount(np.searchsorted(edges, cur, side='left'), minlength=len(edges) + 1).astype(float)
        out = {'name': name, 'nBins': n_bins, 'ref': ref.tolist(), 'cur': cur.tolist(), 'edges': edges.tolist(),
               'refCounts': rc.tolist(), 'curCounts': cc.tolist(),
               'wasserstein': float(stats.wasserstein_distance(ref, cur))}
        out.update(binned(rc, cc))
        cases.append(out)
    addb('normal-shift-10', rng.normal(size=2000), rng.normal(0.3, 1, size=1500), 10)
    addb('normal-same-20', rng.normal(size=3000), rng.normal(size=3000), 20)
    addb('dup-edges-zero-inflated', np.where(rng.uniform(size=2000) < 0.6, 0.0, rng.exponential(size=2000)), np.where(rng.uniform(size=1800) < 0.4, 0.0, rng.exponential(size=1800)), 10)
    addb('few-values', rng.integers(0, 3, size=1000).astype(float), rng.integers(0, 4, size=1000).astype(float), 10)
    addb('empty-current-bins', rng.uniform(0, 10, size=1000), rng.uniform(0, 2, size=500), 10)
    addb('nbins-7-gamma', rng.gamma(2.0, size=1200), rng.gamma(2.4, size=1100), 7)
    with open(os.path.join(OUT, 'binned.json'), 'w') as f:
        json.dump({'generator': 'benchmarks/oracles/make_drift_fixtures.py', 'epsilon': EPS, 'cases': cases}, f)

    # ---- categorical count vectors (last bucket = unseen: never in the reference)
    counts = []
    for name, r, c in [('same', [50, 30, 20, 0], [48, 33, 19, 0]), ('shifted', [500, 300, 200, 0], [300, 300, 350, 50]),
                       ('empty-ref-category', [10, 0, 90, 0], [10, 5, 80, 5]), ('two', [70, 30, 0], [60, 40, 0]),
                       ('single', [100, 0], [80, 0])]:
        rc, cc = np.array(r, float), np.array(c, float)
        out = {'name': name, 'refCounts': r, 'curCounts': c}
        out.update(binned(rc, cc))
        counts.append(out)
    chi = [{'x': x, 'dof': k, 'sf': float(stats.chi2.sf(x, k))} for k in [1, 2, 3, 9, 30, 250] for x in [0.01, 0.5, 1, 3, 10, 40, 120, 400, 2000]]
    with open(os.path.join(OUT, 'counts.json'), 'w') as f:
        json.dump({'generator': 'benchmarks/oracles/make_drift_fixtures.py', 'epsilon': EPS, 'cases': counts, 'chi2sf': chi}, f)


if __name__ == '__main__':
    main()
