#!/usr/bin/python3
"""Oracle fixture for kiln's window and cross features, computed by pandas.

Reads ../shared/datasets/crypto_ohlcv (BTC and ETH daily candles) the way
examples/crypto/features.yaml does (skip the banner line, ts = cast(date as timestamp),
dedupe on (symbol, ts) keeping the first row read, BTC file before ETH file) and computes,
per symbol in time order:

  ret_1d            close / close.shift(1) - 1                       (pct_change, periods 1)
  volatility_7d/30d sample std (ddof 1) of ret_1d over rolling('7D'/'30D'), i.e. (t - w, t]
  momentum_14d      close_t / close at the last ts <= t - 14 days - 1
  volume_ma_7d      mean of volume over rolling('7D')
  volume_zscore_7d  (volume - mean) / sample std over rolling('7D')
  btc_eth_corr_14d  Pearson correlation of (ret_1d BTC, ret_1d ETH) over the timestamps both
                    symbols have in (t - 14 days, t], pairs with a missing side skipped
  btc_eth_ratio     close BTC / close ETH at the same ts (on every symbol's row at that ts)

Windows are pandas `rolling` over a DatetimeIndex; each window's statistic is taken with numpy's
two-pass formulas (rolling(...).apply(raw=True)) so the reference carries no running-sum error.
A window statistic with too few values (std of one value, corr of < 2 pairs, zero variance)
is null, as in kiln.

    /usr/bin/python3 benchmarks/oracles/make_feature_fixtures.py   (writes test/oracle/features/crypto_windows.json)
"""
import json
import math
import os

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, '..', 'shared', 'datasets', 'crypto_ohlcv')
OUT = os.path.join(ROOT, 'test', 'oracle', 'features', 'crypto_windows.json')
FILES = ['Binance_BTCUSDT_d.csv', 'Binance_ETHUSDT_d.csv']


def load():
    parts = []
    for f in FILES:
        d = pd.read_csv(os.path.join(DATA, f), skiprows=1)
        parts.append(pd.DataFrame({
            'symbol': d['symbol'],
            'ts': pd.to_datetime(d['date']),
            'close': d['close'].astype(float),
            'volume': d['Volume USDT'].astype(float),
        }))
    df = pd.concat(parts, ignore_index=True)
    df = df.drop_duplicates(['symbol', 'ts'], keep='first')
    return df.sort_values(['symbol', 'ts']).reset_index(drop=True)


def sample_std(a):
    a = a[~np.isnan(a)]
    return float(np.std(a, ddof=1)) if len(a) >= 2 else np.nan


def mean(a):
    a = a[~np.isnan(a)]
    return float(np.mean(a)) if len(a) else np.nan


def per_symbol(g):
    g = g.set_index('ts').sort_index()
    out = pd.DataFrame(index=g.index)
    out['close'] = g['close']
    out['ret_1d'] = g['close'] / g['close'].shift(1) - 1
    for w in (7, 30):
        out[f'volatility_{w}d'] = out['ret_1d'].rolling(f'{w}D').apply(sample_std, raw=True)
    # momentum: close at the last ts <= t - 14 days (asof), none before the series starts.
    back = g['close'].reindex(g.index - pd.Timedelta(days=14), method='ffill')
    out['momentum_14d'] = g['close'].values / back.values - 1
    ma = g['volume'].rolling('7D').apply(mean, raw=True)
    sd = g['volume'].rolling('7D').apply(sample_std, raw=True)
    out['volume_ma_7d'] = ma
    out['volume_zscore_7d'] = (g['volume'] - ma) / sd.replace(0, np.nan)
    return out


def corr_window(a, b, ts, window):
    res = np.full(len(ts), np.nan)
    for i, t in enumerate(ts):
        m = (ts > t - window) & (ts <= t)
        x, y = a[m], b[m]
        ok = ~np.isnan(x) & ~np.isnan(y)
        x, y = x[ok], y[ok]
        if len(x) < 2:
            continue
        sx, sy = np.std(x), np.std(y)
        if sx == 0 or sy == 0:
            continue
        res[i] = float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))
    return res


def main():
    df = load()
    feats = {s: per_symbol(g) for s, g in df.groupby('symbol')}
    btc, eth = feats['BTC/USDT'], feats['ETH/USDT']
    common = btc.index.intersection(eth.index).sort_values()
    a = btc.loc[common, 'ret_1d'].values
    b = eth.loc[common, 'ret_1d'].values
    # The same correlation two ways: pandas rolling on the paired frame, and explicit windows.
    pair = pd.DataFrame({'a': a, 'b': b}, index=common)
    pandas_corr = pair['a'].rolling('14D').corr(pair['b']).values
    corr = corr_window(a, b, common.values, np.timedelta64(14, 'D'))
    both = ~np.isnan(corr) & ~np.isnan(pandas_corr)
    assert np.max(np.abs(corr[both] - pandas_corr[both])) < 1e-9, 'explicit and rolling correlation disagree'
    cross = pd.DataFrame({
        'btc_eth_corr_14d': corr,
        'btc_eth_ratio': btc.loc[common, 'close'].values / eth.loc[common, 'close'].values,
    }, index=common)

    names = ['ret_1d', 'volatility_7d', 'volatility_30d', 'momentum_14d', 'volume_ma_7d', 'volume_zscore_7d', 'btc_eth_corr_14d', 'btc_eth_ratio']
    rows = []
    for s, f in sorted(feats.items()):
        f = f.join(cross, how='left')
        for ts, r in f.iterrows():
            rows.append([s, ts.strftime('%Y-%m-%dT%H:%M:%S')] + [None if (v is None or math.isnan(v)) else float(v) for v in (r[n] for n in names)])
    doc = {
        'about': 'kiln window/cross features of examples/crypto/features.yaml computed by pandas; made by benchmarks/oracles/make_feature_fixtures.py',
        'pandas': pd.__version__,
        'numpy': np.__version__,
        'columns': ['symbol', 'ts'] + names,
        'rows': rows,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as fh:
        json.dump(doc, fh, separators=(',', ':'))
        fh.write('\n')
    print(f'wrote {OUT}: {len(rows)} rows')


if __name__ == '__main__':
    main()
