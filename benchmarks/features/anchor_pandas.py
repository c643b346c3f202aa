#!/usr/bin/python3
"""pandas anchor of benchmarks/features: the 12 window + 2 cross features of spec.yaml with
pandas `rolling` (time-based windows, closed right = (t - w, t], as kiln), per symbol.

    /usr/bin/python3 benchmarks/features/anchor_pandas.py benchmarks/.data/ohlcv-10000000.csv

Prints one JSON line: rows, read_s (read_csv), compute_s (features), peak_rss_mb, and the mean
of each feature column (to check both sides computed the same thing).
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd


def features(g):
    g = g.set_index('ts')
    out = pd.DataFrame(index=g.index)
    c, v = g['close'], g['volume']
    out['ret_1'] = c / c.shift(1) - 1
    out['close_mean_30m'] = c.rolling('30min').mean()
    out['close_std_30m'] = c.rolling('30min').std()
    out['close_min_1h'] = c.rolling('1h').min()
    out['close_max_1h'] = c.rolling('1h').max()
    out['volume_sum_1h'] = v.rolling('1h').sum()
    out['volume_mean_4h'] = v.rolling('4h').mean()
    m, s = v.rolling('1h').mean(), v.rolling('1h').std()
    out['volume_zscore_1h'] = (v - m) / s.replace(0, np.nan)
    out['high_max_4h'] = g['high'].rolling('4h').max()
    out['low_min_4h'] = g['low'].rolling('4h').min()
    back = c.reindex(g.index - pd.Timedelta(hours=1), method='ffill')
    out['momentum_1h'] = c.values / back.values - 1
    out['volatility_1h'] = out['ret_1'].rolling('1h').std()
    out['close'] = c
    return out


def main():
    t0 = time.perf_counter()
    df = pd.read_csv(sys.argv[1], parse_dates=['ts'])
    t1 = time.perf_counter()
    df = df.sort_values(['symbol', 'ts'], kind='stable')
    parts = {s: features(g) for s, g in df.groupby('symbol', sort=True)}
    a, b = parts['S0'], parts['S1']
    common = a.index.intersection(b.index)
    pair = pd.DataFrame({'ca': a.loc[common, 'close'], 'cb': b.loc[common, 'close'], 'ra': a.loc[common, 'ret_1'], 'rb': b.loc[common, 'ret_1']})
    cross = pd.DataFrame({'s0_s1_ratio': pair['ca'] / pair['cb'], 's0_s1_corr_1h': pair['ra'].rolling('1h').corr(pair['rb'])})
    out = pd.concat([p.drop(columns='close').join(cross, how='left').assign(symbol=s) for s, p in parts.items()])
    t2 = time.perf_counter()
    means = {k: float(out[k].replace([np.inf, -np.inf], np.nan).mean()) for k in out.columns if k != 'symbol'}
    print(json.dumps({'rows': int(len(out)), 'read_s': t1 - t0, 'compute_s': t2 - t1, 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'pandas': pd.__version__, 'means': means}))


if __name__ == '__main__':
    main()
