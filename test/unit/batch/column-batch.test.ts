import { describe, expect, it } from 'vitest';
import { ColumnBatch, columnFromValues, countNulls } from '../../../src/batch/column-batch.js';

const make = (): ColumnBatch =>
  new ColumnBatch(
    [
      columnFromValues('b', 'bool', [true, null, false, true, false]),
      columnFromValues('i', 'int32', [1, -2, null, 4, 5]),
      columnFromValues('l', 'int64', [10n, null, 2n ** 60n, -7n, 0n]),
      columnFromValues('f', 'float32', [0.5, 1.5, null, -2.25, 3]),
      columnFromValues('d', 'float64', [Math.PI, NaN, null, -0, 1e300]),
      columnFromValues('day', 'date32', [0, 19723, null, -1, 365]),
      columnFromValues('ts', 'timestamp_us', [0n, 1704067200123456n, null, -1n, 5n]),
      columnFromValues('s', 'utf8', ['a', '', null, 'naïve 🍵', 'z']),
    ],
    5,
  );

describe('ColumnBatch', () => {
  it('reads values with nulls from validity bitmaps', () => {
    const b = make();
    expect(b.toRows(2)).toEqual([
      { b: true, i: 1, l: 10n, f: 0.5, d: Math.PI, day: 0, ts: 0n, s: 'a' },
      { b: null, i: -2, l: null, f: 1.5, d: NaN, day: 19723, ts: 1704067200123456n, s: '' },
    ]);
    expect(b.column('s').nullCount).toBe(1);
    expect(countNulls(b.column('i').validity, 5)).toBe(1);
  });

  it('round-trips through Arrow with every type and null intact', () => {
    const b = make();
    const back = ColumnBatch.fromArrow(b.toArrow());
    expect(back.names).toEqual(b.names);
    expect(back.columns.map((c) => c.type)).toEqual(b.columns.map((c) => c.type));
    expect(back.toRows()).toEqual(b.toRows());
  });

  it('slices and selects without touching the source', () => {
    const b = make();
    const part = b.slice(2, 5).select(['s', 'l']);
    expect(part.numRows).toBe(3);
    expect(part.toRows()).toEqual([
      { s: null, l: 2n ** 60n },
      { s: 'naïve 🍵', l: -7n },
      { s: 'z', l: 0n },
    ]);
    expect(b.value('s', 3)).toBe('naïve 🍵');
  });

  it('refuses short columns, duplicate names and unknown columns with E_SCHEMA', () => {
    const a = columnFromValues('a', 'float64', [1, 2]);
    expect(() => new ColumnBatch([a], 3)).toThrow(expect.objectContaining({ code: 'E_SCHEMA' }));
    expect(() => new ColumnBatch([a, a], 2)).toThrow(expect.objectContaining({ code: 'E_SCHEMA' }));
    expect(() => new ColumnBatch([a], 2).column('nope')).toThrow(/no column "nope"/);
  });
});
