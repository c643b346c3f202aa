/**
 * Model-file plumbing of the dense models (linear, mlp): envelope and schema checks that refuse
 * anything else with E_MODEL_FORMAT, option checks with E_USAGE, and canonical atomic saving.
 */
import { promises as fsp } from 'node:fs';

import { KilnError } from '../../bindings/errors.js';
import type { TrainProgress } from '../../bindings/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { canonicalJson } from '../lineage/hash.js';
import { compileSchema, describeAjvError } from '../validate/schema.js';

/** The `format` field of every kiln model file. */
export const KILN_MODEL_FORMAT = 'kiln.model';
/** The model format version written and read by this build. */
export const KILN_MODEL_VERSION = 1;

function formatError(what: string, message: string): KilnError {
  return new KilnError('E_MODEL_FORMAT', `${what}: ${message}`);
}

/** Throws E_MODEL_FORMAT naming the first non-finite number (or other non-JSON value) in `value`. */
export function assertJsonNumbersFinite(what: string, value: unknown, pointer = ''): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw formatError(what, `${pointer || '/'} is ${value}; model files hold finite numbers only`);
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertJsonNumbersFinite(what, value[i], `${pointer}/${i}`);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) assertJsonNumbersFinite(what, v, `${pointer}/${k}`);
  }
}

/**
 * Checks the envelope (format, version, kind) with a clear message, then the whole object against
 * builtin schema `schemaName`. Throws E_MODEL_FORMAT on any mismatch.
 */
export function validateModelObject(what: string, obj: unknown, kind: string, schemaName: string): void {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw formatError(what, 'a model must be a JSON object');
  const o = obj as Record<string, unknown>;
  if (o.format !== KILN_MODEL_FORMAT) throw formatError(what, `format is ${JSON.stringify(o.format)}, expected "${KILN_MODEL_FORMAT}"`);
  if (o.version !== KILN_MODEL_VERSION) {
    throw formatError(what, `model format version ${JSON.stringify(o.version)} is not supported (this build reads version ${KILN_MODEL_VERSION})`);
  }
  if (o.kind !== kind) throw formatError(what, `kind is ${JSON.stringify(o.kind)}, expected "${kind}"`);
  assertJsonNumbersFinite(what, obj);
  const { validate } = compileSchema(`builtin:${schemaName}`, { allErrors: true });
  if (!validate(obj)) {
    const msgs = (validate.errors ?? []).slice(0, 8).map((e) => {
      const d = describeAjvError(e);
      return `${d.pointer || '/'}: ${d.message}`;
    });
    throw formatError(what, `does not match schema ${schemaName}: ${msgs.join('; ')}`);
  }
}

/** Throws E_MODEL_FORMAT with `message` unless `ok`. */
export function requireModel(ok: boolean, what: string, message: string): asserts ok {
  if (!ok) throw formatError(what, message);
}

/** Writes `json` as canonical JSON (sorted keys, no spaces) plus a newline, atomically. */
export async function saveModelJson(path: string, json: unknown): Promise<void> {
  await writeFileAtomic(path, `${canonicalJson(json)}\n`);
}

/** Reads and parses a model file (E_IO when unreadable, E_MODEL_FORMAT when not JSON). */
export async function readModelJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    throw new KilnError('E_IO', `cannot read model file ${path}: ${(err as Error).message}`, { file: path });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new KilnError('E_MODEL_FORMAT', `model file ${path} is not valid JSON: ${(err as Error).message}`, { file: path });
  }
}

/** Throws E_USAGE unless `options` is a plain object whose keys are all in `allowed`. */
export function checkOptionKeys(owner: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new KilnError('E_USAGE', `${owner}: options must be an object`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new KilnError('E_USAGE', `${owner}: unknown option '${key}' (allowed: ${allowed.join(', ')})`);
  }
  return options as Record<string, unknown>;
}

/** An integer option in [min, max] (default when undefined), else E_USAGE naming it. */
export function intOption(owner: string, name: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new KilnError('E_USAGE', `${owner}: option ${name} must be an integer in [${min}, ${max}] (got ${describe(v)})`);
  }
  return v;
}

/** A finite number option in [min, max] ((min, max] when minExclusive), else E_USAGE naming it. */
export function numberOption(owner: string, name: string, v: unknown, dflt: number, min: number, max: number, minExclusive = false): number {
  if (v === undefined) return dflt;
  const ok = typeof v === 'number' && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && v <= max;
  if (!ok) {
    throw new KilnError('E_USAGE', `${owner}: option ${name} must be a finite number in ${minExclusive ? '(' : '['}${min}, ${max}] (got ${describe(v)})`);
  }
  return v as number;
}

/** A string option among `allowed`, else E_USAGE naming it. */
export function enumOption<T extends string>(owner: string, name: string, v: unknown, dflt: T, allowed: readonly T[]): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new KilnError('E_USAGE', `${owner}: option ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got ${describe(v)})`);
  }
  return v as T;
}

/** Short description of a value for messages. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `[${v.slice(0, 5).map(describe).join(', ')}${v.length > 5 ? ', …' : ''}]`;
  return typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v;
}

/** Checks fit()'s third argument: only valid, signal and onProgress. */
export function checkFitCall(owner: string, opts: unknown): { valid?: { X: unknown; y: unknown }; signal?: AbortSignal; onProgress?: (p: TrainProgress) => void } {
  const o = checkOptionKeys(`${owner}.fit`, opts, ['valid', 'signal', 'onProgress']);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new KilnError('E_USAGE', `${owner}.fit: signal must be an AbortSignal`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new KilnError('E_USAGE', `${owner}.fit: onProgress must be a function`);
  if (o.valid !== undefined) {
    const v = o.valid as Record<string, unknown> | null;
    if (v === null || typeof v !== 'object' || !('X' in v) || !('y' in v)) throw new KilnError('E_USAGE', `${owner}.fit: valid must be { X, y }`);
  }
  return o as ReturnType<typeof checkFitCall>;
}
