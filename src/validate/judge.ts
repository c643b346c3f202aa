import { isUtf8 } from 'node:buffer';
import { compileSchema, describeAjvError } from './schema.js';

/** Why a record was rejected. */
export type RejectCode = 'E_JSON' | 'E_SCHEMA' | 'E_CONSENT' | 'E_DUPLICATE_ID' | 'E_TOO_LARGE' | 'E_NO_LABEL' | 'E_ENCODING' | 'E_EMPTY';

/** Every reject code, in report order; a verdict's `code` is 1 + its index here (0 = accepted). */
export const REJECT_CODES: readonly RejectCode[] = ['E_JSON', 'E_SCHEMA', 'E_CONSENT', 'E_DUPLICATE_ID', 'E_TOO_LARGE', 'E_NO_LABEL', 'E_ENCODING', 'E_EMPTY'];

/** The per-record rules of an ingest run (everything except duplicate detection, which needs order). */
export interface JudgeOptions {
  schema: string;
  requireLabel?: boolean;
  consentScope?: 'care' | 'research';
  maxBytes: number;
  idField: string;
}

/** Verdicts for a unit of lines, in flat arrays so they cross threads cheaply. */
export interface UnitVerdicts {
  /** 0 = accepted, else 1 + index in REJECT_CODES. */
  codes: Uint8Array;
  /** Accepted: the id value as a string ('' when the record has none). */
  ids: string[];
  /** Rejected: JSON pointer and message. */
  pointers: string[];
  messages: string[];
  /** Byte range of the record body inside its line (BOM and CR removed). */
  bodyStart: Int32Array;
  bodyEnd: Int32Array;
}

const code = (c: RejectCode): number => REJECT_CODES.indexOf(c) + 1;
const C_JSON = code('E_JSON');
const C_SCHEMA = code('E_SCHEMA');
const C_CONSENT = code('E_CONSENT');
const C_TOO_LARGE = code('E_TOO_LARGE');
const C_NO_LABEL = code('E_NO_LABEL');
const C_ENCODING = code('E_ENCODING');
const C_EMPTY = code('E_EMPTY');

/** Judges lines `buf[offsets[2i] .. offsets[2i+1])` by the stateless ingest rules. */
export function makeJudge(opts: JudgeOptions): (buf: Buffer, offsets: Int32Array) => UnitVerdicts {
  const { validate } = compileSchema(opts.schema);
  return (buf, offsets) => {
    const n = offsets.length >> 1;
    const v: UnitVerdicts = { codes: new Uint8Array(n), ids: new Array<string>(n).fill(''), pointers: new Array<string>(n).fill(''), messages: new Array<string>(n).fill(''), bodyStart: new Int32Array(n), bodyEnd: new Int32Array(n) };
    const reject = (i: number, c: number, pointer: string, message: string): void => {
      v.codes[i] = c;
      v.pointers[i] = pointer;
      v.messages[i] = message;
    };
    for (let i = 0; i < n; i++) {
      let s = offsets[2 * i]!;
      let e = offsets[2 * i + 1]!;
      if (e > s && buf[e - 1] === 0x0d) e--;
      v.bodyStart[i] = s;
      v.bodyEnd[i] = e;
      if (e - s > opts.maxBytes) {
        reject(i, C_TOO_LARGE, '', `record is ${e - s} bytes, limit is ${opts.maxBytes}`);
        continue;
      }
      if (e - s >= 3 && buf[s] === 0xef && buf[s + 1] === 0xbb && buf[s + 2] === 0xbf) s += 3;
      v.bodyStart[i] = s;
      const body = buf.subarray(s, e);
      if (!isUtf8(body)) {
        reject(i, C_ENCODING, '', 'record is not valid UTF-8');
        continue;
      }
      const text = buf.toString('utf8', s, e);
      let rec: unknown;
      try {
        rec = JSON.parse(text);
      } catch (err) {
        if (text.trim() === '') reject(i, C_EMPTY, '', 'blank line');
        else reject(i, C_JSON, '', (err as Error).message);
        continue;
      }
      if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
        reject(i, C_SCHEMA, '', 'record must be a JSON object');
        continue;
      }
      let valid: boolean;
      try {
        valid = validate(rec) as boolean;
      } catch (err) {
        reject(i, C_SCHEMA, '', `record could not be validated: ${(err as Error).message}`);
        continue;
      }
      if (!valid) {
        const { pointer, message } = describeAjvError(validate.errors![0]!);
        reject(i, pointer === '/consent' || pointer.startsWith('/consent/') ? C_CONSENT : C_SCHEMA, pointer, message);
        continue;
      }
      const obj = rec as Record<string, unknown>;
      if (opts.consentScope) {
        const consent = obj.consent as { scope?: unknown } | undefined;
        if (!consent || consent.scope !== opts.consentScope) {
          reject(i, C_CONSENT, '/consent/scope', `consent scope ${JSON.stringify(consent?.scope ?? null)} does not cover "${opts.consentScope}"`);
          continue;
        }
      }
      if (opts.requireLabel) {
        const payload = obj.payload as { label?: unknown } | undefined;
        if (!payload || payload.label === undefined || payload.label === null) {
          reject(i, C_NO_LABEL, '/payload/label', 'label required (--require-label) but missing');
          continue;
        }
      }
      const id = obj[opts.idField];
      v.ids[i] = typeof id === 'string' ? `s${id}` : typeof id === 'number' ? `n${id}` : '';
    }
    return v;
  };
}
