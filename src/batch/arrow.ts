import * as arrow from 'apache-arrow';
import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, countNulls, type Column, type ColumnType } from './column-batch.js';

/** Converts a batch to an Arrow RecordBatch; numeric buffers are shared, bools are bit-packed. */
export function batchToArrow(batch: ColumnBatch): arrow.RecordBatch {
  const fields: arrow.Field[] = [];
  const children: arrow.Data[] = [];
  for (const c of batch.columns) {
    const type = arrowTypeOf(c.type);
    fields.push(new arrow.Field(c.name, type, true));
    const length = batch.numRows;
    const nullBitmap = c.validity ?? undefined;
    const nullCount = c.validity ? countNulls(c.validity, length) : 0;
    let data: arrow.Data;
    if (c.type === 'utf8') {
      data = arrow.makeData({ type: type as arrow.Utf8, length, nullCount, nullBitmap, valueOffsets: c.offsets!.subarray(0, length + 1), data: c.values as Uint8Array });
    } else if (c.type === 'bool') {
      const packed = new Uint8Array((length + 7) >> 3);
      const v = c.values as Uint8Array;
      for (let i = 0; i < length; i++) if (v[i]) packed[i >> 3]! |= 1 << (i & 7);
      data = arrow.makeData({ type: type as arrow.Bool, length, nullCount, nullBitmap, data: packed });
    } else {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      data = arrow.makeData({ type: type as any, length, nullCount, nullBitmap, data: c.values.subarray(0, length) as any });
    }
    children.push(data);
  }
  const schema = new arrow.Schema(fields);
  const structData = arrow.makeData({ type: new arrow.Struct(fields), length: batch.numRows, nullCount: 0, children });
  return new arrow.RecordBatch(schema, structData);
}

/** Converts an Arrow RecordBatch to a batch, copying into kiln's layouts; unsupported types are refused. */
export function batchFromArrow(rb: arrow.RecordBatch): ColumnBatch {
  const columns: Column[] = [];
  rb.schema.fields.forEach((field, idx) => {
    const vector = rb.getChildAt(idx);
    if (!vector) throw new KilnError('E_SCHEMA', `Arrow column ${field.name} is missing`);
    columns.push(columnFromArrow(field.name, vector));
  });
  return new ColumnBatch(columns, rb.numRows);
}

function columnFromArrow(name: string, vector: arrow.Vector): Column {
  const type = kilnTypeOf(name, vector.type);
  const n = vector.length;
  const validity = vector.nullCount > 0 ? new Uint8Array((n + 7) >> 3) : null;
  if (validity) for (let i = 0; i < n; i++) if (vector.isValid(i)) validity[i >> 3]! |= 1 << (i & 7);
  const nullCount = vector.nullCount;
  if (type === 'utf8') {
    const enc = new TextEncoder();
    const offsets = new Int32Array(n + 1);
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < n; i++) {
      const s = vector.get(i) as string | null;
      if (s !== null) {
        const b = enc.encode(s);
        parts.push(b);
        total += b.length;
      }
      offsets[i + 1] = total;
    }
    const values = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      values.set(p, at);
      at += p.length;
    }
    return { name, type, values, offsets, validity, nullCount };
  }
  if (type === 'bool') {
    const values = new Uint8Array(n);
    for (let i = 0; i < n; i++) values[i] = vector.get(i) ? 1 : 0;
    return { name, type, values, validity, nullCount };
  }
  if (type === 'timestamp_us' || type === 'date32') {
    return { name, type, values: temporalFromArrow(vector), validity, nullCount };
  }
  const copy = vector.toArray() as ArrayLike<number | bigint>;
  const Ctor = type === 'int32' ? Int32Array : type === 'int64' ? BigInt64Array : type === 'float32' ? Float32Array : Float64Array;
  const values = new Ctor(n);
  if (values instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) values[i] = BigInt(copy[i] ?? 0);
  } else {
    for (let i = 0; i < n; i++) (values as Float64Array)[i] = Number(copy[i] ?? 0);
  }
  return { name, type, values, validity, nullCount };
}

function arrowTypeOf(t: ColumnType): arrow.DataType {
  switch (t) {
    case 'bool':
      return new arrow.Bool();
    case 'int32':
      return new arrow.Int32();
    case 'int64':
      return new arrow.Int64();
    case 'float32':
      return new arrow.Float32();
    case 'float64':
      return new arrow.Float64();
    case 'date32':
      return new arrow.DateDay();
    case 'timestamp_us':
      return new arrow.TimestampMicrosecond();
    case 'utf8':
      return new arrow.Utf8();
  }
}

function kilnTypeOf(name: string, t: arrow.DataType): ColumnType {
  if (arrow.DataType.isBool(t)) return 'bool';
  if (arrow.DataType.isInt(t)) return t.bitWidth === 64 || (t.bitWidth === 32 && !t.isSigned) ? 'int64' : 'int32';
  if (arrow.DataType.isFloat(t)) return t.precision === arrow.Precision.SINGLE ? 'float32' : 'float64';
  if (arrow.DataType.isDate(t)) return 'date32';
  if (arrow.DataType.isTimestamp(t)) return 'timestamp_us';
  if (arrow.DataType.isUtf8(t) || arrow.DataType.isLargeUtf8(t)) return 'utf8';
  throw new KilnError('E_SCHEMA', `Arrow column "${name}" has unsupported type ${String(t)}`);
}

/** Reads Arrow date/timestamp chunks from their raw int buffers (exact, no float ms detour). */
function temporalFromArrow(vector: arrow.Vector): Int32Array | BigInt64Array {
  const t = vector.type as arrow.DataType;
  const n = vector.length;
  if (arrow.DataType.isDate(t)) {
    const out = new Int32Array(n);
    let at = 0;
    for (const chunk of vector.data) {
      const raw = chunk.values as Int32Array | BigInt64Array;
      for (let j = 0; j < chunk.length; j++) {
        out[at++] = t.unit === arrow.DateUnit.DAY ? Number(raw[j]) : Math.floor(Number(raw[j]) / 86_400_000);
      }
    }
    return out;
  }
  const unit = (t as arrow.Timestamp).unit;
  const out = new BigInt64Array(n);
  let at = 0;
  for (const chunk of vector.data) {
    const raw = chunk.values as BigInt64Array;
    for (let j = 0; j < chunk.length; j++) {
      const v = raw[j]!;
      out[at++] = unit === arrow.TimeUnit.SECOND ? v * 1_000_000n : unit === arrow.TimeUnit.MILLISECOND ? v * 1000n : unit === arrow.TimeUnit.MICROSECOND ? v : v / 1000n;
    }
  }
  return out;
}
