/**
 * The prediction log: one NDJSON line per served prediction (id, model version, feature hash,
 * output, label, time) in size-rotated files `predictions-<seq>.ndjson` under one folder. Lines are
 * appended whole (one write per line, O_APPEND), so a crash leaves at most the line being written.
 */
import fs from 'node:fs';
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import { canonicalJson, sha256Text } from '../lineage/hash.js';

/** One logged prediction. */
export interface PredictionRecord {
  /** The caller's id of the row or request (what outcomes are joined on). */
  id: string;
  /** The model as it was referenced (file path or registry:name@N). */
  model: string;
  /** sha256 of the model file: the exact version that answered. */
  modelVersion: string;
  /** First 32 hex digits of the sha256 of the row's feature values (canonical JSON array). */
  featureHash: string;
  /** P(class 1) (binary), K probabilities (multiclass) or the value (regression). */
  output: number | number[];
  /** The predicted label, when labels were asked for. */
  label: string | null;
  /** ISO 8601 time of the prediction. */
  time: string;
}

/** Options of a prediction log. */
export interface PredictionLogOptions {
  /** Start a new file when the current one reaches this many bytes (default 64 MiB). */
  maxBytes?: number;
  /** Keep at most this many files, deleting the oldest (default 0: keep all). */
  maxFiles?: number;
}

const FILE_RE = /^predictions-(\d{6})\.ndjson$/;

/** The feature hash of one row's values (numbers, strings, null), in feature order. */
export function featureHash(values: ReadonlyArray<number | string | boolean | bigint | null>): string {
  return sha256Text(canonicalJson(values.map((v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)))).slice(0, 32);
}

/** The log files of a folder (or the file itself), oldest first. */
export function predictionLogFiles(dirOrFile: string): string[] {
  if (!fs.existsSync(dirOrFile)) throw new KilnError('E_IO', `prediction log ${dirOrFile}: no such file or folder`, { file: dirOrFile });
  if (fs.statSync(dirOrFile).isFile()) return [dirOrFile];
  return fs
    .readdirSync(dirOrFile)
    .filter((f) => FILE_RE.test(f))
    .sort()
    .map((f) => path.join(dirOrFile, f));
}

/** Appends prediction records to size-rotated NDJSON files in a folder. */
export class PredictionLog {
  private fd: number | null = null;
  private seq: number;
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  /** Records written by this log object. */
  written = 0;

  constructor(
    readonly dir: string,
    opts: PredictionLogOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.maxFiles = opts.maxFiles ?? 0;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 1024) throw new KilnError('E_USAGE', `prediction log maxBytes must be an integer >= 1024 (got ${opts.maxBytes})`);
    if (!Number.isInteger(this.maxFiles) || this.maxFiles < 0) throw new KilnError('E_USAGE', `prediction log maxFiles must be a non-negative integer (got ${opts.maxFiles})`);
    fs.mkdirSync(dir, { recursive: true });
    const existing = predictionLogFiles(dir);
    const last = existing.at(-1);
    this.seq = last ? Number(FILE_RE.exec(path.basename(last))![1]) : 1;
    if (last) this.bytes = fs.statSync(last).size;
  }

  /** The file being written. */
  get currentFile(): string {
    return path.join(this.dir, `predictions-${String(this.seq).padStart(6, '0')}.ndjson`);
  }

  /** Appends one record (rotating first when the current file is full). */
  write(record: PredictionRecord): void {
    const line = JSON.stringify({ id: record.id, model: record.model, modelVersion: record.modelVersion, featureHash: record.featureHash, output: record.output, label: record.label, time: record.time }) + '\n';
    const size = Buffer.byteLength(line);
    if (this.bytes > 0 && this.bytes + size > this.maxBytes) this.rotate();
    if (this.fd === null) this.fd = fs.openSync(this.currentFile, 'a');
    fs.writeSync(this.fd, line);
    this.bytes += size;
    this.written++;
  }

  /** Flushes to disk and closes the current file. */
  close(): void {
    if (this.fd === null) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = null;
  }

  private rotate(): void {
    this.close();
    this.seq++;
    this.bytes = 0;
    if (this.maxFiles > 0) {
      const files = predictionLogFiles(this.dir);
      for (const old of files.slice(0, Math.max(0, files.length - this.maxFiles + 1))) fs.rmSync(old, { force: true });
    }
  }
}
