import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { fsyncFile, tempPathFor } from '../io/atomic.js';
import { duckdbError, withConnection } from '../io/duckdb.js';
import { sqlString } from '../io/formats.js';
import { compileSchema, describeAjvError, resolveSchemaRef } from './schema.js';

/** Why a record was rejected. */
export type RejectCode = 'E_JSON' | 'E_SCHEMA' | 'E_CONSENT' | 'E_DUPLICATE_ID' | 'E_TOO_LARGE' | 'E_NO_LABEL' | 'E_ENCODING' | 'E_EMPTY';

/** Every reject code, in report order. */
export const REJECT_CODES: readonly RejectCode[] = ['E_JSON', 'E_SCHEMA', 'E_CONSENT', 'E_DUPLICATE_ID', 'E_TOO_LARGE', 'E_NO_LABEL', 'E_ENCODING', 'E_EMPTY'];

/** One line of the rejects file. */
export interface RejectRecord {
  line: number;
  code: RejectCode;
  pointer: string;
  message: string;
  /** The record as read (UTF-8 text), cut to 1 KiB only for oversize lines. */
  raw?: string;
  /** Base64 of the bytes when they are not valid UTF-8. */
  rawBase64?: string;
  rawBytes: number;
  rawTruncated?: boolean;
}

/** Options of a fail-closed ingest run. */
export interface IngestOptions {
  /** `builtin:<name>` or a JSON Schema file. */
  schema: string;
  /** Accepted records: NDJSON, or Parquet by extension. */
  out: string;
  /** Rejected records with line, code, pointer and message (NDJSON). */
  rejects: string;
  requireLabel?: boolean;
  /** Only records whose consent.scope equals this are accepted. */
  consentScope?: 'care' | 'research';
  /** Lines longer than this many bytes are rejected unread (default 16384). */
  maxBytes?: number;
  /** Gate: the run fails (exit 1) when rejected/read exceeds this (default 0.01). */
  maxRejectRate?: number;
  /** Field whose repeats are rejected as E_DUPLICATE_ID (default event_id). */
  idField?: string;
  onProgress?: (p: IngestProgress) => void;
  signal?: AbortSignal;
}

/** Progress of a running ingest. */
export interface IngestProgress {
  bytesRead: number;
  totalBytes: number;
  read: number;
  accepted: number;
  rejected: number;
}

/** The outcome of an ingest run; read = accepted + rejected always holds. */
export interface IngestSummary {
  input: string;
  out: string | null;
  rejects: string;
  schema: string;
  read: number;
  accepted: number;
  rejected: number;
  rejectRate: number;
  maxRejectRate: number;
  byCode: Record<RejectCode, number>;
  gate: 'passed' | 'failed';
  durationMs: number;
  eventsPerSecond: number;
}

const REJECT_RAW_LIMIT = 1024;
const FLUSH_BYTES = 1 << 20;

const NEWLINE = Buffer.from('\n');

/** Buffered writer of byte slices to a temp file with backpressure; slices must stay unmodified until flushed. */
class LineSink {
  private readonly stream: fs.WriteStream;
  private parts: Buffer[] = [];
  private size = 0;
  private readonly failed: Promise<never>;

  constructor(readonly file: string) {
    this.stream = fs.createWriteStream(file);
    this.failed = new Promise<never>((_, reject) => this.stream.once('error', reject));
    this.failed.catch(() => undefined);
  }

  /** Buffers one line (a newline is appended); call `flush` when `pending` reports a full buffer. */
  pushLine(bytes: Buffer): void {
    this.parts.push(bytes, NEWLINE);
    this.size += bytes.length + 1;
  }

  get pending(): boolean {
    return this.size >= FLUSH_BYTES;
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(chunk)) await Promise.race([once(this.stream, 'drain'), this.failed]);
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await Promise.race([once(this.stream, 'finish'), this.failed]);
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/**
 * Reads NDJSON records, validates each against a compiled JSON Schema and kiln's ingest rules, and
 * splits them into accepted (`out`) and rejected (`rejects`) files. Fail closed: outputs appear only
 * complete (temp, fsync, rename); when the reject rate is above the gate, `out` is not published.
 */
export async function ingestFile(input: string, opts: IngestOptions): Promise<IngestSummary> {
  const started = performance.now();
  const maxBytes = opts.maxBytes ?? 16_384;
  const maxRejectRate = opts.maxRejectRate ?? 0.01;
  const idField = opts.idField ?? 'event_id';
  if (!Number.isInteger(maxBytes) || maxBytes < 2) throw new KilnError('E_USAGE', `maxBytes must be an integer ≥ 2, got ${maxBytes}`);
  if (!(maxRejectRate >= 0 && maxRejectRate <= 1)) throw new KilnError('E_USAGE', `maxRejectRate must be in [0, 1], got ${maxRejectRate}`);
  if (opts.consentScope !== undefined && opts.consentScope !== 'care' && opts.consentScope !== 'research') {
    throw new KilnError('E_USAGE', `consentScope must be "care" or "research", got "${String(opts.consentScope)}"`);
  }
  const outFormat = /\.parquet$/i.test(opts.out) ? 'parquet' : 'ndjson';
  if (path.resolve(opts.out) === path.resolve(opts.rejects) || path.resolve(opts.out) === path.resolve(input)) {
    throw new KilnError('E_USAGE', '--out, --rejects and the input must be three different files');
  }
  let stat: fs.Stats;
  try {
    stat = await fsp.stat(input);
  } catch {
    throw new KilnError('E_IO', `cannot read input ${input}: no such file`, { file: input });
  }
  if (!stat.isFile()) throw new KilnError('E_IO', `input ${input} is not a file`, { file: input });
  const schemaFile = resolveSchemaRef(opts.schema);
  const { validate } = compileSchema(opts.schema);
  const builtinByteEvent = path.basename(schemaFile) === 'byte-event.schema.json';

  for (const f of [opts.out, opts.rejects]) await fsp.mkdir(path.dirname(path.resolve(f)), { recursive: true });
  const outTmp = tempPathFor(path.resolve(opts.out)) + '.ndjson';
  const rejTmp = tempPathFor(path.resolve(opts.rejects));
  const outSink = new LineSink(outTmp);
  const rejSink = new LineSink(rejTmp);
  const byCode = Object.fromEntries(REJECT_CODES.map((c) => [c, 0])) as Record<RejectCode, number>;
  const seen = new Set<string>();
  let read = 0;
  let accepted = 0;
  let rejected = 0;
  let bytesRead = 0;
  const progressEvery = 50_000;

  const reject = (line: number, code: RejectCode, pointer: string, message: string, bytes: Buffer, truncated = false, totalBytes = bytes.length): void => {
    rejected++;
    byCode[code]++;
    const rec: RejectRecord = { line, code, pointer, message, rawBytes: totalBytes };
    const kept = truncated ? bytes.subarray(0, REJECT_RAW_LIMIT) : bytes;
    if (isUtf8(kept)) rec.raw = kept.toString('utf8');
    else rec.rawBase64 = kept.toString('base64');
    if (truncated) rec.rawTruncated = true;
    rejSink.pushLine(Buffer.from(JSON.stringify(rec)));
  };

  const handleLine = (bytes: Buffer, lineNo: number): void => {
    read++;
    let body = bytes;
    if (body.length > 0 && body[body.length - 1] === 0x0d) body = body.subarray(0, body.length - 1);
    if (body.length > maxBytes) return reject(lineNo, 'E_TOO_LARGE', '', `record is ${body.length} bytes, limit is ${maxBytes}`, body, true);
    if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3);
    if (!isUtf8(body)) return reject(lineNo, 'E_ENCODING', '', 'record is not valid UTF-8', body);
    const text = body.toString('utf8');
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch (err) {
      if (text.trim() === '') return reject(lineNo, 'E_EMPTY', '', 'blank line', body);
      return reject(lineNo, 'E_JSON', '', (err as Error).message, body);
    }
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return reject(lineNo, 'E_SCHEMA', '', 'record must be a JSON object', body);
    if (!validate(rec)) {
      const first = validate.errors![0]!;
      const { pointer, message } = describeAjvError(first);
      const code: RejectCode = pointer === '/consent' || pointer.startsWith('/consent/') ? 'E_CONSENT' : 'E_SCHEMA';
      return reject(lineNo, code, pointer, message, body);
    }
    const obj = rec as Record<string, unknown>;
    if (opts.consentScope) {
      const consent = obj.consent as { scope?: unknown } | undefined;
      if (!consent || consent.scope !== opts.consentScope) {
        return reject(lineNo, 'E_CONSENT', '/consent/scope', `consent scope ${JSON.stringify(consent?.scope ?? null)} does not cover "${opts.consentScope}"`, body);
      }
    }
    if (opts.requireLabel) {
      const payload = obj.payload as { label?: unknown } | undefined;
      if (!payload || payload.label === undefined || payload.label === null) return reject(lineNo, 'E_NO_LABEL', '/payload/label', 'label required (--require-label) but missing', body);
    }
    const id = obj[idField];
    if (typeof id === 'string' || typeof id === 'number') {
      const key = String(id);
      if (seen.has(key)) return reject(lineNo, 'E_DUPLICATE_ID', `/${idField}`, `duplicate ${idField} ${JSON.stringify(id)} (first accepted earlier)`, body);
      seen.add(key);
    }
    accepted++;
    outSink.pushLine(body);
  };

  let published = false;
  try {
    const stream = fs.createReadStream(input, { highWaterMark: 4 << 20 });
    let carry: Buffer | null = null;
    let carryOversize = 0;
    let lineNo = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (opts.signal?.aborted) throw new KilnError('E_CANCELLED', 'ingest cancelled');
      bytesRead += chunk.length;
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl === -1) break;
        lineNo++;
        let line: Buffer;
        if (carry !== null) {
          line = Buffer.concat([carry, chunk.subarray(start, nl)]);
          carry = null;
        } else line = chunk.subarray(start, nl);
        if (carryOversize > 0) {
          const total = carryOversize + (nl - start);
          carryOversize = 0;
          read++;
          reject(lineNo, 'E_TOO_LARGE', '', `record is ${total} bytes, limit is ${maxBytes}`, line, true, total);
        } else handleLine(line, lineNo);
        start = nl + 1;
        if (read % progressEvery === 0) opts.onProgress?.({ bytesRead, totalBytes: stat.size, read, accepted, rejected });
      }
      if (outSink.pending) await outSink.flush();
      if (rejSink.pending) await rejSink.flush();
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        if (carryOversize > 0) carryOversize += rest.length;
        else {
          carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
          // Keep at most a prefix of an oversize line; the rest is only counted.
          if (carry.length > maxBytes + 4) {
            carryOversize = carry.length;
            carry = carry.subarray(0, REJECT_RAW_LIMIT);
          }
        }
      }
    }
    if (carry !== null || carryOversize > 0) {
      lineNo++;
      if (carryOversize > 0) {
        read++;
        reject(lineNo, 'E_TOO_LARGE', '', `record is ${carryOversize} bytes, limit is ${maxBytes}`, carry ?? Buffer.alloc(0), true, carryOversize);
      } else handleLine(carry!, lineNo);
    }
    await outSink.close();
    await rejSink.close();
    opts.onProgress?.({ bytesRead, totalBytes: stat.size, read, accepted, rejected });

    const rejectRate = read === 0 ? 0 : rejected / read;
    const gate = rejectRate > maxRejectRate ? 'failed' : 'passed';
    await fsyncFile(rejTmp);
    await fsp.rename(rejTmp, opts.rejects);
    if (gate === 'passed') {
      if (outFormat === 'parquet') await ndjsonToParquet(outTmp, opts.out, builtinByteEvent);
      else {
        await fsyncFile(outTmp);
        await fsp.rename(outTmp, opts.out);
      }
      published = true;
    }
    const durationMs = performance.now() - started;
    return {
      input,
      out: published ? opts.out : null,
      rejects: opts.rejects,
      schema: opts.schema,
      read,
      accepted,
      rejected,
      rejectRate,
      maxRejectRate,
      byCode,
      gate,
      durationMs,
      eventsPerSecond: durationMs > 0 ? (read / durationMs) * 1000 : 0,
    };
  } catch (err) {
    outSink.destroy();
    rejSink.destroy();
    if (err instanceof KilnError) throw err;
    throw new KilnError('E_IO', `ingest of ${input} failed: ${(err as Error).message}`, { file: input });
  } finally {
    await fsp.rm(outTmp, { force: true });
    await fsp.rm(rejTmp, { force: true });
  }
}

const BYTE_EVENT_COLUMNS =
  "{'event_id': 'VARCHAR', 'timestamp': 'TIMESTAMPTZ', 'source': 'VARCHAR', " +
  "'consent': 'STRUCT(scope VARCHAR, revocable BOOLEAN)', 'payload': 'STRUCT(type VARCHAR, features JSON, label JSON)'}";

/** Converts the accepted NDJSON to Parquet atomically (explicit columns for byte events, inferred otherwise). */
async function ndjsonToParquet(ndjson: string, target: string, byteEvent: boolean): Promise<void> {
  const tmp = tempPathFor(path.resolve(target));
  const reader = byteEvent
    ? `read_json(${sqlString(ndjson)}, format='newline_delimited', columns=${BYTE_EVENT_COLUMNS})`
    : `read_json(${sqlString(ndjson)}, format='newline_delimited', sample_size=-1)`;
  try {
    await withConnection(async (conn) => {
      try {
        await conn.run(`COPY (SELECT * FROM ${reader}) TO ${sqlString(tmp)} (FORMAT parquet)`);
      } catch (err) {
        throw duckdbError(err, { file: target });
      }
    });
    await fsyncFile(tmp);
    await fsp.rename(tmp, target);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}
