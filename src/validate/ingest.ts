import { isUtf8 } from 'node:buffer';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { fsyncFile, tempPathFor } from '../io/atomic.js';
import { duckdbError, withConnection } from '../io/duckdb.js';
import { sqlString } from '../io/formats.js';
import { compileSchema, resolveSchemaRef } from './schema.js';
import { makeJudge, REJECT_CODES, type JudgeOptions, type RejectCode, type UnitVerdicts } from './judge.js';
import { PACKAGE_ROOT } from '../version.js';

export { REJECT_CODES, type RejectCode } from './judge.js';

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
  /** Validation threads (default: cores, for inputs over 4 MiB; 0 = validate on the calling thread). */
  workers?: number;
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
  if (outFormat === 'ndjson' && !/\.(ndjson|jsonl|json)$/i.test(opts.out)) {
    throw new KilnError('E_USAGE', `--out ${opts.out}: accepted records are written as NDJSON (.ndjson, .jsonl) or Parquet (.parquet)`);
  }
  if (!/\.(ndjson|jsonl|json)$/i.test(opts.rejects)) {
    throw new KilnError('E_USAGE', `--rejects ${opts.rejects}: rejects are written as NDJSON; name the file .ndjson or .jsonl`);
  }
  const same = (a: string, b: string): boolean => path.resolve(a) === path.resolve(b) || (fs.existsSync(a) && fs.existsSync(b) && fs.realpathSync(a) === fs.realpathSync(b));
  if (same(opts.out, opts.rejects) || same(opts.out, input) || same(opts.rejects, input)) {
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
  compileSchema(opts.schema);
  const builtinByteEvent = path.basename(schemaFile) === 'byte-event.schema.json';
  const judgeOptions: JudgeOptions = { schema: schemaFile, requireLabel: Boolean(opts.requireLabel), consentScope: opts.consentScope, maxBytes, idField };
  const workers = opts.workers ?? (stat.size > 4 << 20 ? os.availableParallelism() : 0);

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

  /** Applies a unit's verdicts in line order: duplicate detection, then accepted/rejected output. */
  const finalize = (unit: Unit, buf: Buffer, v: UnitVerdicts): void => {
    let k = 0;
    for (let e = 0; e < unit.lineNos.length; e++) {
      const lineNo = unit.lineNos[e]!;
      const pre = unit.preRejects.get(e);
      read++;
      if (pre) {
        reject(lineNo, 'E_TOO_LARGE', '', `record is ${pre.totalBytes} bytes, limit is ${maxBytes}`, pre.prefix, true, pre.totalBytes);
        continue;
      }
      const start = unit.offsets[2 * k]!;
      const end = unit.offsets[2 * k + 1]!;
      const c = v.codes[k]!;
      const body = buf.subarray(v.bodyStart[k]!, v.bodyEnd[k]!);
      const id = v.ids[k]!;
      k++;
      if (c !== 0) {
        reject(lineNo, REJECT_CODES[c - 1]!, v.pointers[k - 1]!, v.messages[k - 1]!, buf.subarray(start, end));
        continue;
      }
      if (id !== '') {
        if (seen.has(id)) {
          const shown = id[0] === 's' ? JSON.stringify(id.slice(1)) : id.slice(1);
          reject(lineNo, 'E_DUPLICATE_ID', `/${idField}`, `duplicate ${idField} ${shown} (first accepted earlier)`, body);
          continue;
        }
        seen.add(id);
      }
      accepted++;
      outSink.pushLine(body);
    }
  };

  const pool = new JudgePool(workers, judgeOptions);
  const inflight: Array<{ unit: Unit; result: Promise<{ buf: Buffer; verdicts: UnitVerdicts }> }> = [];
  const settleHead = async (): Promise<void> => {
    const head = inflight.shift()!;
    const { buf, verdicts } = await head.result;
    finalize(head.unit, buf, verdicts);
    opts.onProgress?.({ bytesRead, totalBytes: stat.size, read, accepted, rejected });
    if (outSink.pending) await outSink.flush();
    if (rejSink.pending) await rejSink.flush();
  };
  let unit = new Unit(UNIT_BYTES);
  const dispatch = async (): Promise<void> => {
    if (unit.lineNos.length === 0) return;
    const result = pool.judge(unit);
    result.catch(() => undefined);
    inflight.push({ unit, result });
    unit = new Unit(UNIT_BYTES);
    while (inflight.length > Math.max(1, 2 * workers)) await settleHead();
  };
  const addLine = async (line: Buffer, lineNo: number): Promise<void> => {
    if (!unit.fits(line.length)) {
      await dispatch();
      if (!unit.fits(line.length)) unit = new Unit(line.length);
    }
    unit.addLine(line, lineNo);
  };

  let published = false;
  try {
    const stream = fs.createReadStream(input, { highWaterMark: 4 << 20 });
    let carry: Buffer | null = null;
    let carryOversize = 0;
    let lineNo = 0;
    const lineLimit = maxBytes + 1;
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
        const bodyLength = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
        if (carryOversize > 0 || bodyLength > maxBytes) {
          const total = carryOversize > 0 ? carryOversize + (nl - start) : bodyLength;
          carryOversize = 0;
          unit.addPreReject(lineNo, Buffer.from(line.subarray(0, REJECT_RAW_LIMIT)), total);
        } else await addLine(line, lineNo);
        start = nl + 1;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        if (carryOversize > 0) carryOversize += rest.length;
        else {
          carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
          // Keep at most a prefix of an oversize line; the rest is only counted.
          if (carry.length > lineLimit + 1) {
            carryOversize = carry.length;
            carry = carry.subarray(0, REJECT_RAW_LIMIT);
          }
        }
      }
    }
    if (carry !== null || carryOversize > 0) {
      lineNo++;
      if (carryOversize > 0) unit.addPreReject(lineNo, carry ?? Buffer.alloc(0), carryOversize);
      else {
        const bodyLength = carry!.length > 0 && carry![carry!.length - 1] === 0x0d ? carry!.length - 1 : carry!.length;
        if (bodyLength > maxBytes) unit.addPreReject(lineNo, Buffer.from(carry!.subarray(0, REJECT_RAW_LIMIT)), bodyLength);
        else await addLine(carry!, lineNo);
      }
    }
    await dispatch();
    while (inflight.length > 0) await settleHead();
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
    await pool.close();
    await fsp.rm(outTmp, { force: true });
    await fsp.rm(rejTmp, { force: true });
  }
}

const UNIT_BYTES = 1 << 20;

/** A run of consecutive lines copied into one transferable buffer, plus oversize lines rejected unread. */
class Unit {
  buf: Buffer;
  used = 0;
  /** start, end of each stored line inside `buf`. */
  offsets: number[] = [];
  /** Line number of each entry, stored or pre-rejected, in input order. */
  lineNos: number[] = [];
  /** Entry index → oversize line (prefix kept, full size counted). */
  preRejects = new Map<number, { prefix: Buffer; totalBytes: number }>();

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(1, capacity));
  }

  fits(bytes: number): boolean {
    return this.used + bytes <= this.buf.length;
  }

  addLine(line: Buffer, lineNo: number): void {
    line.copy(this.buf, this.used);
    this.offsets.push(this.used, this.used + line.length);
    this.used += line.length;
    this.lineNos.push(lineNo);
  }

  addPreReject(lineNo: number, prefix: Buffer, totalBytes: number): void {
    this.preRejects.set(this.lineNos.length, { prefix, totalBytes });
    this.lineNos.push(lineNo);
  }
}

/** Where the compiled worker script lives: beside this module when built, else in dist/ (tests run sources). */
export function ingestWorkerScript(): URL | null {
  const beside = new URL('./ingest-worker.js', import.meta.url);
  if (fs.existsSync(beside)) return beside;
  const built = path.join(PACKAGE_ROOT, 'dist', 'src', 'validate', 'ingest-worker.js');
  return fs.existsSync(built) ? new URL(`file://${built}`) : null;
}

/** Judges units on worker threads (or inline when there are none), answering in submission order per unit. */
class JudgePool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: { buf: Buffer; verdicts: UnitVerdicts }) => void; reject: (e: Error) => void }>();
  private readonly inline: ((buf: Buffer, offsets: Int32Array) => UnitVerdicts) | null = null;
  private next = 0;
  private closing = false;

  constructor(count: number, options: JudgeOptions) {
    const script = count > 0 ? ingestWorkerScript() : null;
    if (script === null) {
      this.inline = makeJudge(options);
      return;
    }
    for (let i = 0; i < count; i++) {
      const w = new Worker(script, { workerData: options });
      w.on('message', (msg: { unit: number; buf: ArrayBuffer; verdicts?: UnitVerdicts; error?: string }) => {
        const p = this.pending.get(msg.unit);
        if (!p) return;
        this.pending.delete(msg.unit);
        if (msg.error !== undefined || !msg.verdicts) p.reject(new KilnError('E_INTERNAL', `ingest worker failed: ${msg.error ?? 'no verdicts'}`));
        else p.resolve({ buf: Buffer.from(msg.buf), verdicts: msg.verdicts });
      });
      w.on('exit', (code) => {
        if (code === 0 || this.closing) return;
        for (const p of this.pending.values()) p.reject(new KilnError('E_INTERNAL', `ingest worker exited with code ${code}`));
        this.pending.clear();
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(new KilnError('E_INTERNAL', `ingest worker crashed: ${err.message}`));
        this.pending.clear();
      });
      this.workers.push(w);
    }
  }

  judge(unit: Unit): Promise<{ buf: Buffer; verdicts: UnitVerdicts }> {
    const offsets = Int32Array.from(unit.offsets);
    if (this.inline) return Promise.resolve({ buf: unit.buf, verdicts: this.inline(unit.buf, offsets) });
    const id = this.next++;
    const worker = this.workers[id % this.workers.length]!;
    const ab = unit.buf.buffer as ArrayBuffer;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ unit: id, buf: ab, offsets }, [ab, offsets.buffer]);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
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
