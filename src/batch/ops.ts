/** Row operations on ColumnBatches that copy: concatenation and gathering rows by index. */
import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, countNulls, isValidBit, valuesConstructorFor, type Column, type ColumnValues } from './column-batch.js';

/** One batch holding the rows of `batches` in order; every batch must have the same column names and types. */
export function concatBatches(batches: readonly ColumnBatch[]): ColumnBatch {
  if (batches.length === 0) throw new KilnError('E_USAGE', 'concatBatches needs at least one batch');
  if (batches.length === 1) return batches[0]!;
  const first = batches[0]!;
  for (const b of batches) {
    if (b.columns.length !== first.columns.length || b.columns.some((c, i) => c.name !== first.columns[i]!.name || c.type !== first.columns[i]!.type)) {
      throw new KilnError('E_SCHEMA', `cannot concatenate batches with different columns: [${first.names.join(', ')}] vs [${b.names.join(', ')}]`);
    }
  }
  const total = batches.reduce((n, b) => n + b.numRows, 0);
  const columns = first.columns.map((_, ci) => concatColumn(batches.map((b) => b.columns[ci]!), batches.map((b) => b.numRows), total));
  return new ColumnBatch(columns, total);
}

function concatColumn(parts: Column[], lengths: number[], total: number): Column {
  const c0 = parts[0]!;
  const anyNull = parts.some((p) => p.validity !== null && p.nullCount > 0);
  let validity: Uint8Array | null = null;
  if (anyNull) {
    validity = new Uint8Array((total + 7) >> 3);
    let at = 0;
    parts.forEach((p, k) => {
      for (let i = 0; i < lengths[k]!; i++, at++) if (isValidBit(p.validity, i)) validity![at >> 3]! |= 1 << (at & 7);
    });
  }
  const nullCount = countNulls(validity, total);
  if (c0.type === 'utf8') {
    const bytes = parts.reduce((n, p, k) => n + (p.offsets![lengths[k]!]! - p.offsets![0]!), 0);
    const values = new Uint8Array(bytes);
    const offsets = new Int32Array(total + 1);
    let row = 0, pos = 0;
    parts.forEach((p, k) => {
      const o = p.offsets!;
      const n = lengths[k]!;
      values.set((p.values as Uint8Array).subarray(o[0]!, o[n]!), pos);
      for (let i = 0; i < n; i++) offsets[row + i + 1] = pos + (o[i + 1]! - o[0]!);
      pos += o[n]! - o[0]!;
      row += n;
    });
    return { name: c0.name, type: c0.type, values, offsets, validity, nullCount };
  }
  const Ctor = valuesConstructorFor(c0.type) as unknown as { new (n: number): ColumnValues & { set(a: ArrayLike<number | bigint>, o: number): void } };
  const values = new Ctor(total);
  let at = 0;
  parts.forEach((p, k) => {
    values.set((p.values as unknown as { subarray(a: number, b: number): ArrayLike<number | bigint> }).subarray(0, lengths[k]!), at);
    at += lengths[k]!;
  });
  return { name: c0.name, type: c0.type, values, validity, nullCount };
}

/** A batch of the rows at `rows` (in that order; repeats allowed), copied. */
export function takeRows(batch: ColumnBatch, rows: ArrayLike<number>): ColumnBatch {
  const n = rows.length;
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= batch.numRows) throw new KilnError('E_USAGE', `takeRows: row ${r} is outside 0..${batch.numRows - 1}`);
  }
  return new ColumnBatch(batch.columns.map((c) => takeColumn(c, rows)), n);
}

function takeColumn(c: Column, rows: ArrayLike<number>): Column {
  const n = rows.length;
  let validity: Uint8Array | null = null;
  if (c.validity !== null && c.nullCount > 0) {
    validity = new Uint8Array((n + 7) >> 3);
    for (let i = 0; i < n; i++) if (isValidBit(c.validity, rows[i]!)) validity[i >> 3]! |= 1 << (i & 7);
  }
  const nullCount = countNulls(validity, n);
  if (c.type === 'utf8') {
    const o = c.offsets!;
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += o[rows[i]! + 1]! - o[rows[i]!]!;
    const src = c.values as Uint8Array;
    const values = new Uint8Array(bytes);
    const offsets = new Int32Array(n + 1);
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      values.set(src.subarray(o[r]!, o[r + 1]!), pos);
      pos += o[r + 1]! - o[r]!;
      offsets[i + 1] = pos;
    }
    return { name: c.name, type: c.type, values, offsets, validity, nullCount };
  }
  const src = c.values as unknown as ArrayLike<number | bigint>;
  const values = new (valuesConstructorFor(c.type) as unknown as { new (n: number): ColumnValues & { [i: number]: number | bigint } })(n);
  for (let i = 0; i < n; i++) values[i] = src[rows[i]!]!;
  return { name: c.name, type: c.type, values, validity, nullCount };
}
