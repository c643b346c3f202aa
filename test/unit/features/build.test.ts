// buildFeatures on small generated series: every feature kind against a plain JS reference,
// category unseen policies, splits, train/serve parity with applyFeatures, and no look-ahead.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KilnError } from '../../../bindings/errors.js';
import type { ColumnBatch } from '../../../src/batch/column-batch.js';
import { applyFeatures, buildFeatures, validateSpec, type FeatureDef, type FeatureSpec } from '../../../src/features/index.js';
import { scanFile } from '../../../src/io/scan.js';
import { closeTo, readParquetRows } from '../../helpers/features.js';
import { makeTemp, rmTemp } from '../../helpers/paths.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);
const WORDS = ['coffee', 'Shop', 'GROCERY', 'store', 'fuel', 'station', 'online', 'market', 'pay'];

interface Row {
  entity: string;
  ts: number;
  x: number;
  y: number;
  cat: string;
  text: string;
  label: number;
}

/** Two entities, daily; B misses some days (so 7d differs from 7 rows); last 10 days bring new categories. */
function makeRows(n = 60): Row[] {
  const rows: Row[] = [];
  for (let d = 0; d < n; d++) {
    for (const e of ['A', 'B']) {
      if (e === 'B' && d % 5 === 3) continue;
      const k = d * 2 + (e === 'A' ? 0 : 1);
      const x = 100 + 10 * Math.sin(k * 0.7) + d * (e === 'A' ? 0.5 : -0.2) + ((k * 37) % 11) / 3;
      const y = 50 + ((k * 53) % 17) + Math.cos(k);
      const cat = d >= n - 10 ? `late${k % 2}` : `c${(k * 7) % 5}`;
      const text = `${WORDS[k % 9]} ${WORDS[(k * 5 + 1) % 9]} #${k} ${WORDS[(k * 3 + 2) % 9]}`;
      rows.push({ entity: e, ts: T0 + d * DAY + (e === 'B' ? 3_600_000 * 0 : 0), x, y, cat, text, label: (k * 13) % 3 === 0 ? 1 : 0 });
    }
  }
  return rows;
}

function writeCsv(file: string, rows: Row[]): void {
  const lines = ['entity,ts,x,y,cat,text,label'];
  for (const r of rows) lines.push(`${r.entity},${new Date(r.ts).toISOString().slice(0, 19).replace('T', ' ')},${r.x.toPrecision(17)},${r.y.toPrecision(17)},${r.cat},"${r.text}",${r.label}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

function specFor(file: string, features: FeatureDef[], extra: Partial<FeatureSpec> = {}): FeatureSpec {
  return { version: 1, sources: { s: { path: file, format: 'csv' } }, entity: 'entity', time: 'ts', features, ...extra } as FeatureSpec;
}

let dir: string;
let csv: string;
const rows: Row[] = makeRows();
let outCounter = 0;
const out = (): string => path.join(dir, `out${++outCounter}`);
const key = (r: Record<string, unknown>): string => `${r.entity}|${r.ts}`;
const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

beforeAll(() => {
  dir = makeTemp('kiln-features-build-');
  csv = path.join(dir, 'series.csv');

  writeCsv(csv, rows);
});
afterAll(() => rmTemp(dir));

// ---- plain JS reference of the window kinds ----
function series(e: string): Row[] {
  return rows.filter((r) => r.entity === e).sort((a, b) => a.ts - b.ts);
}
function sampleStd(v: number[]): number | null {
  if (v.length < 2) return null;
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}
type Agg = (v: number[]) => number | null;
const AGG: Record<string, Agg> = {
  mean: (v) => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : null),
  sum: (v) => (v.length ? v.reduce((s, x) => s + x, 0) : null),
  min: (v) => (v.length ? Math.min(...v) : null),
  max: (v) => (v.length ? Math.max(...v) : null),
  std: sampleStd,
};
/** Values of x in the window ending at row i of s: `rows` rows or a `ms` time range, optionally excluding row i. */
function windowValues(s: Row[], i: number, w: { rows?: number; ms?: number }, exclusive: boolean, get: (r: Row) => number = (r) => r.x): number[] {
  const hi = exclusive ? i - 1 : i;
  const out: number[] = [];
  for (let j = 0; j <= hi; j++) {
    const inRows = w.rows !== undefined && j > (exclusive ? i - 1 - w.rows : i - w.rows);
    const inTime = w.ms !== undefined && (exclusive ? s[j]!.ts >= s[i]!.ts - w.ms : s[j]!.ts > s[i]!.ts - w.ms);
    if (inRows || inTime) out.push(get(s[j]!));
  }
  return out;
}

describe('spec validation', () => {
  const base = { version: 1, sources: { s: { path: 'x.csv' } }, entity: 'e', time: 't' };
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown kind', { ...base, features: [{ name: 'a', kind: 'magic' }] }, /features\[0\] \(a\)/],
    ['window without window', { ...base, features: [{ name: 'a', kind: 'window', fn: 'mean', column: 'x' }] }, /features\[0\] \(a\)\.window: is required for mean/],
    ['bad window text', { ...base, features: [{ name: 'a', kind: 'window', fn: 'mean', column: 'x', window: '7 days' }] }, /window/],
    ['duplicate name', { ...base, features: [{ name: 'a', kind: 'sql', expr: '1' }, { name: 'a', kind: 'sql', expr: '2' }] }, /"a" is already the name of features\[0\]/],
    ['unknown field', { ...base, features: [{ name: 'a', kind: 'lag', column: 'x', window: 3 }] }, /features\[0\] \(a\)\.window: is not a/],
    ['version 2', { ...base, version: 2, features: [] }, /version: is 2; this kiln reads version 1 only/],
    ['bad split fractions', { ...base, features: [{ name: 'a', kind: 'sql', expr: '1' }], split: { kind: 'temporal', train: 0.9, valid: 0.2, test: 0.1 } }, /split/],
    ['bad unseen policy', { ...base, features: [{ name: 'a', kind: 'category', column: 'c', unseen: 'drop' }] }, /unseen.*must be one of "error", "other", "missing"/],
  ];
  for (const [name, spec, msg] of cases) {
    it(`rejects ${name} with E_SCHEMA naming the field`, () => {
      let err: unknown;
      try {
        validateSpec(spec);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KilnError);
      expect((err as KilnError).code).toBe('E_SCHEMA');
      expect((err as Error).message).toMatch(msg);
    });
  }
  it('accepts the crypto example spec and resolves paths against baseDir', () => {
    const s = validateSpec({ ...base, features: [{ name: 'a', kind: 'window', fn: 'mean', column: 'x', window: '7d' }] }, { baseDir: '/data/specs' });
    expect(s.sources!.s!.path).toBe('/data/specs/x.csv');
  });
});

describe('feature kinds', () => {
  let got: Map<string, Record<string, unknown>>;
  const windows: Array<{ name: string; fn: string; w: { rows?: number; ms?: number }; spec: number | string; exclusive?: boolean }> = [
    { name: 'mean_5', fn: 'mean', w: { rows: 5 }, spec: 5 },
    { name: 'sum_7d', fn: 'sum', w: { ms: 7 * DAY }, spec: '7d' },
    { name: 'min_4d', fn: 'min', w: { ms: 4 * DAY }, spec: '4d' },
    { name: 'max_3', fn: 'max', w: { rows: 3 }, spec: 3 },
    { name: 'std_7d', fn: 'std', w: { ms: 7 * DAY }, spec: '7d' },
    { name: 'mean_7d_excl', fn: 'mean', w: { ms: 7 * DAY }, spec: '7d', exclusive: true },
    { name: 'sum_3_excl', fn: 'sum', w: { rows: 3 }, spec: 3, exclusive: true },
  ];
  beforeAll(async () => {
    const features: FeatureDef[] = [
      ...windows.map((w) => ({ name: w.name, kind: 'window', fn: w.fn, column: 'x', window: w.spec, ...(w.exclusive ? { exclusive: true } : {}) }) as FeatureDef),
      { name: 'z_7d', kind: 'window', fn: 'zscore', column: 'x', window: '7d' },
      { name: 'pct_2', kind: 'window', fn: 'pct_change', column: 'x', periods: 2 },
      { name: 'mom_5', kind: 'window', fn: 'momentum', column: 'x', window: 5 },
      { name: 'mom_6d', kind: 'window', fn: 'momentum', column: 'x', window: '6d' },
      { name: 'vol_7d', kind: 'window', fn: 'volatility', column: 'x', window: '7d' },
      { name: 'lag_2', kind: 'lag', column: 'y', periods: 2 },
      { name: 'dow', kind: 'calendar', part: 'dow' },
      { name: 'wknd', kind: 'calendar', part: 'is_weekend' },
      { name: 'month', kind: 'calendar', part: 'month' },
      { name: 'xy', kind: 'sql', expr: 'x * y' },
      { name: 'ab_spread', kind: 'cross', fn: 'spread', column: 'x', left: 'A', right: 'B' },
      { name: 'ab_ratio', kind: 'cross', fn: 'ratio', column: 'y', left: 'A', right: 'B' },
    ];
    const r = await buildFeatures(specFor(csv, features), { outDir: out(), threads: 2 });
    got = new Map((await readParquetRows(r.files.features!)).map((x) => [key(x), x]));
  });

  it('writes one row per input row', () => {
    expect(got.size).toBe(rows.length);
  });

  for (const w of windows) {
    it(`window ${w.fn} over ${w.spec}${w.exclusive ? ' (exclusive)' : ''}`, () => {
      for (const e of ['A', 'B']) {
        const s = series(e);
        s.forEach((r, i) => {
          const want = AGG[w.fn]!(windowValues(s, i, w.w, Boolean(w.exclusive)));
          const have = got.get(`${e}|${iso(r.ts)}`)![w.name];
          expect(closeTo(have, want, 1e-12), `${w.name} ${e} ${iso(r.ts)}: ${String(have)} vs ${want}`).toBe(true);
        });
      }
    });
  }

  it('zscore, pct_change, momentum (rows and time), volatility, lag', () => {
    for (const e of ['A', 'B']) {
      const s = series(e);
      const ret = s.map((r, i) => (i ? r.x / s[i - 1]!.x - 1 : NaN));
      s.forEach((r, i) => {
        const g = got.get(`${e}|${iso(r.ts)}`)!;
        const win = windowValues(s, i, { ms: 7 * DAY }, false);
        const sd = sampleStd(win);
        expect(closeTo(g.z_7d, sd ? (r.x - AGG.mean!(win)!) / sd : null, 1e-12)).toBe(true);
        expect(closeTo(g.pct_2, i >= 2 ? r.x / s[i - 2]!.x - 1 : null, 1e-12)).toBe(true);
        expect(closeTo(g.mom_5, i >= 5 ? r.x / s[i - 5]!.x - 1 : null, 1e-12)).toBe(true);
        const back = [...s.slice(0, i)].reverse().find((p) => p.ts <= r.ts - 6 * DAY);
        expect(closeTo(g.mom_6d, back ? r.x / back.x - 1 : null, 1e-12), `mom_6d ${e} ${iso(r.ts)}`).toBe(true);
        const rets = windowValues(s, i, { ms: 7 * DAY }, false, (p) => ret[s.indexOf(p)]!).filter((v) => !Number.isNaN(v));
        expect(closeTo(g.vol_7d, sampleStd(rets), 1e-12), `vol ${e} ${iso(r.ts)}`).toBe(true);
        expect(g.lag_2 === null ? null : g.lag_2).toBe(i >= 2 ? Number(s[i - 2]!.y.toPrecision(17)) : null);
        expect(closeTo(g.xy, r.x * r.y, 1e-12)).toBe(true);
      });
    }
  });

  it('calendar parts (dow 0 = Monday) and cross spread/ratio joined on time', () => {
    const byTs = new Map<number, Record<string, Row>>();
    for (const r of rows) (byTs.get(r.ts) ?? byTs.set(r.ts, {}).get(r.ts)!)[r.entity] = r;
    for (const r of rows) {
      const g = got.get(`${r.entity}|${iso(r.ts)}`)!;
      const jsDow = (new Date(r.ts).getUTCDay() + 6) % 7;
      expect(g.dow).toBe(jsDow);
      expect(g.wknd).toBe(jsDow >= 5 ? 1 : 0);
      expect(g.month).toBe(new Date(r.ts).getUTCMonth() + 1);
      const pair = byTs.get(r.ts)!;
      if (pair.A && pair.B) {
        expect(closeTo(g.ab_spread, pair.A.x - pair.B.x, 1e-12)).toBe(true);
        expect(closeTo(g.ab_ratio, pair.A.y / pair.B.y, 1e-12)).toBe(true);
      } else {
        expect(g.ab_spread).toBeNull();
        expect(g.ab_ratio).toBeNull();
      }
    }
  });
});

describe('category unseen policies', () => {
  const split = { kind: 'temporal', train: 0.7, valid: 0.15, test: 0.15 } as const;
  const late = rows.filter((r) => r.cat.startsWith('late')).length;
  const cat = (unseen: string, encoding = 'onehot'): FeatureDef => ({ name: 'cat', kind: 'category', column: 'cat', encoding, unseen }) as FeatureDef;

  it('error (the default): the build fails naming the value, column and row, and writes nothing', async () => {
    const o = out();
    const p = buildFeatures(specFor(csv, [{ name: 'cat', kind: 'category', column: 'cat' } as FeatureDef], { split }), { outDir: o, threads: 2 });
    await expect(p).rejects.toThrow(/category feature cat: column cat has value "late[01]" at (valid|test)\.parquet row \d+ \(entity=/);
    expect(fs.existsSync(o)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(`.${path.basename(o)}`))).toEqual([]);
  });

  it('other: unseen values go to the __other__ column and are counted', async () => {
    const heard: Array<{ stage: string; rows?: number; totalRows?: number }> = [];
    const r = await buildFeatures(specFor(csv, [cat('other')], { split }), { outDir: out(), threads: 2, batchSize: 8, onProgress: (p) => heard.push(p) });
    expect(r.counts.unseen.cat).toBe(late);
    // Encoded splits report their rows as they are written, up to the split's size.
    for (const s of ['train', 'valid', 'test'] as const) {
      const counted = heard.filter((p) => p.stage === `write ${s}.parquet` && p.rows !== undefined);
      expect(counted.length, s).toBeGreaterThan(1);
      expect(counted.every((p, i) => p.totalRows === r.rows[s] && (i === 0 || p.rows! > counted[i - 1]!.rows!))).toBe(true);
      expect(counted.at(-1)!.rows).toBe(r.rows[s]);
    }
    const test = await readParquetRows([r.files.valid!, r.files.test!]);
    const lateRows = test.filter((x) => x['cat=__other__'] === 1);
    expect(lateRows.length).toBe(late);
    for (const x of test) expect(Object.keys(x).filter((k) => k.startsWith('cat=')).reduce((s, k) => s + (x[k] as number), 0)).toBe(1);
  });

  it('missing: unseen values are missing (ordinal null; one-hot all zero) and counted', async () => {
    const r = await buildFeatures(specFor(csv, [cat('missing', 'ordinal')], { split }), { outDir: out(), threads: 2 });
    expect(r.counts.unseen.cat).toBe(late);
    const rest = await readParquetRows([r.files.valid!, r.files.test!]);
    expect(rest.filter((x) => x.cat === null).length).toBe(late);
    const train = await readParquetRows(r.files.train!);
    expect(train.every((x) => typeof x.cat === 'number' && x.cat >= 0 && x.cat < 5)).toBe(true);
    const oh = await buildFeatures(specFor(csv, [cat('missing')], { split }), { outDir: out(), threads: 2 });
    const ohRest = await readParquetRows([oh.files.valid!, oh.files.test!]);
    const zero = ohRest.filter((x) => Object.keys(x).filter((k) => k.startsWith('cat=')).every((k) => x[k] === 0));
    expect(zero.length).toBe(late);
  });
});

describe('splits', () => {
  it('temporal: train < valid < test in time, fractions as asked', async () => {
    const r = await buildFeatures(specFor(csv, [{ name: 'xy', kind: 'sql', expr: 'x * y' }], { split: { kind: 'temporal', train: 0.6, valid: 0.2, test: 0.2 } }), { outDir: out(), threads: 2 });
    const [tr, va, te] = await Promise.all([r.files.train!, r.files.valid!, r.files.test!].map((f) => readParquetRows(f, 'ts')));
    expect(tr!.at(-1)!.ts! <= va![0]!.ts!).toBe(true);
    expect(va!.at(-1)!.ts! <= te![0]!.ts!).toBe(true);
    const n = rows.length;
    expect(Math.abs(tr!.length / n - 0.6)).toBeLessThan(0.03);
    expect(Math.abs(va!.length / n - 0.2)).toBeLessThan(0.03);
  });

  it('random: stratified by label, seeded, deterministic', async () => {
    const spec = (seed: number): FeatureSpec => specFor(csv, [{ name: 'xy', kind: 'sql', expr: 'x * y' }], { label: { name: 'label', expr: 'label' }, split: { kind: 'random', train: 0.5, valid: 0.25, test: 0.25, seed } });
    const members = async (seed: number): Promise<Record<string, string[]>> => {
      const r = await buildFeatures(spec(seed), { outDir: out(), threads: 2 });
      const m: Record<string, string[]> = {};
      for (const s of ['train', 'valid', 'test']) m[s] = (await readParquetRows(r.files[s]!)).map((x) => `${key(x)}|${x.label}`).sort();
      return m;
    };
    const a = await members(3);
    const b = await members(3);
    const c = await members(4);
    expect(a).toEqual(b);
    expect(a.train).not.toEqual(c.train);
    const pos = rows.filter((r) => r.label === 1).length;
    const neg = rows.length - pos;
    const trainPos = a.train!.filter((k) => k.endsWith('|1')).length;
    expect(Math.abs(trainPos - pos * 0.5)).toBeLessThanOrEqual(1);
    expect(Math.abs(a.train!.length - trainPos - neg * 0.5)).toBeLessThanOrEqual(1);
    // not a temporal split: train spans the whole time range
    const days = new Set(a.train!.map((k) => k.split('|')[1]!.slice(0, 10)));
    expect(days.size).toBeGreaterThan(40);
  });
});

describe('train/serve parity', () => {
  it('applyFeatures(batch, featureSchema) equals buildFeatures output for the same rows', async () => {
    const features: FeatureDef[] = [
      { name: 'mean_7d', kind: 'window', fn: 'mean', column: 'x', window: '7d' },
      { name: 'vol_7d', kind: 'window', fn: 'volatility', column: 'x', window: '7d' },
      { name: 'lag_1', kind: 'lag', column: 'y', periods: 1 },
      { name: 'corr', kind: 'cross', fn: 'correlation', column: 'x', left: 'A', right: 'B', window: '10d' },
      { name: 'dow', kind: 'calendar', part: 'dow' },
      { name: 'cat', kind: 'category', column: 'cat', top_k: 3, unseen: 'other' },
      { name: 'txt', kind: 'text_hash', column: 'text', bits: 5, bigrams: true, seed: 9 },
    ];
    const r = await buildFeatures(specFor(csv, features, { label: { name: 'label', expr: 'label' }, split: { kind: 'temporal', train: 0.7, valid: 0.15, test: 0.15 } }), { outDir: out(), threads: 2, stream: true });
    const built = new Map((await readParquetRows(Object.values(r.files))).map((x) => [key(x), x]));
    const parts: ColumnBatch[] = [];
    for await (const b of scanFile(csv, { format: 'csv' })) parts.push(b);
    expect(parts.length).toBe(1);
    const applied = await applyFeatures(parts[0]!, r.schemaFile);
    expect(applied.numRows).toBe(rows.length);
    const featureCols = r.schema.columns.filter((c) => c.role === 'feature').map((c) => c.name);
    expect(featureCols.filter((c) => c.startsWith('txt_')).length).toBe(32);
    expect(featureCols).toContain('cat=__other__');
    let compared = 0;
    for (let i = 0; i < applied.numRows; i++) {
      const ts = applied.value('ts', i) as bigint;
      const k = `${applied.value('entity', i)}|${iso(Number(ts / 1000n))}`;
      const b = built.get(k)!;
      expect(b, k).toBeDefined();
      for (const c of featureCols) {
        const v = applied.value(c, i);
        expect(v === null || (typeof v === 'number' && Number.isNaN(v)) ? null : v, `${c} at ${k}`).toEqual(b[c]);
        compared++;
      }
    }
    expect(compared).toBe(rows.length * featureCols.length);
  });
});

describe('no look-ahead', () => {
  it('changing every row after t changes no feature at or before t', async () => {
    const features: FeatureDef[] = [
      { name: 'mean_7d', kind: 'window', fn: 'mean', column: 'x', window: '7d' },
      { name: 'std_5', kind: 'window', fn: 'std', column: 'x', window: 5 },
      { name: 'max_7d_excl', kind: 'window', fn: 'max', column: 'y', window: '7d', exclusive: true },
      { name: 'z_7d', kind: 'window', fn: 'zscore', column: 'x', window: '7d' },
      { name: 'pct_1', kind: 'window', fn: 'pct_change', column: 'x', periods: 1 },
      { name: 'mom_6d', kind: 'window', fn: 'momentum', column: 'x', window: '6d' },
      { name: 'vol_7d', kind: 'window', fn: 'volatility', column: 'x', window: '7d' },
      { name: 'lag_1', kind: 'lag', column: 'y', periods: 1 },
      { name: 'corr_10d', kind: 'cross', fn: 'correlation', column: 'x', left: 'A', right: 'B', window: '10d' },
      { name: 'ratio', kind: 'cross', fn: 'ratio', column: 'x', left: 'A', right: 'B' },
    ];
    const t = T0 + 30 * DAY;
    const changed = rows.map((r) => (r.ts > t ? { ...r, x: r.x * 3 + 1000, y: -r.y } : r));
    // Rows after t also appear in a different order and with an extra future row.
    const future = [...changed.filter((r) => r.ts > t).reverse(), { ...rows[0]!, ts: T0 + 90 * DAY, x: 1e6 }];
    const csv2 = path.join(dir, 'series-changed.csv');
    writeCsv(csv2, [...changed.filter((r) => r.ts <= t), ...future]);
    const [a, b] = await Promise.all([csv, csv2].map(async (f) => new Map((await readParquetRows((await buildFeatures(specFor(f, features), { outDir: out(), threads: 2 })).files.features!)).map((x) => [key(x), x]))));
    let compared = 0;
    let laterDiffer = 0;
    for (const [k, ra] of a!) {
      const rb = b!.get(k)!;
      const ts = Date.parse(`${String(ra.ts)}Z`);
      for (const f of features) {
        if (ts <= t) {
          expect(rb[f.name], `${f.name} at ${k}`).toEqual(ra[f.name]);
          compared++;
        } else if (rb[f.name] !== ra[f.name]) laterDiffer++;
      }
    }
    expect(compared).toBeGreaterThan(500);
    expect(laterDiffer).toBeGreaterThan(100); // the change is visible after t, so the test can see leaks
  });
});
