import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { KilnError } from '../../bindings/errors.js';

/** A file's size and the sha256 (lowercase hex) of its bytes. */
export interface FileDigest {
  size: number;
  sha256: string;
}

/** Streams a file through sha256 (memory stays bounded by the read buffer); E_IO naming the file when unreadable. */
export async function sha256File(file: string): Promise<string> {
  return (await digestFile(file)).sha256;
}

/** Streams a file through sha256 and counts its bytes in the same pass. */
export async function digestFile(file: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), async function (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        size += chunk.length;
        hash.update(chunk);
      }
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new KilnError('E_IO', `cannot hash ${file}: ${why}`, { file });
  }
  return { size, sha256: hash.digest('hex') };
}

/** sha256 (lowercase hex) of a string's UTF-8 bytes. */
export function sha256Text(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * JSON with object keys sorted by UTF-16 code unit and no whitespace; otherwise the same text as
 * JSON.stringify (toJSON honoured, undefined/functions dropped, non-finite numbers as null).
 * BigInts become numbers when safe, else decimal strings. Circular values throw E_USAGE.
 */
export function canonicalJson(value: unknown): string {
  const out = encode(value, '', new Set<object>(), '');
  return out === undefined ? 'null' : out;
}

/** sha256 of canonicalJson(value): equal for values that differ only in key order. */
export function hashJson(value: unknown): string {
  return sha256Text(canonicalJson(value));
}

function encode(value: unknown, key: string, seen: Set<object>, pointer: string): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: (k: string) => unknown }).toJSON(key);
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? String(Number(value)) : JSON.stringify(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (seen.has(obj)) throw new KilnError('E_USAGE', `cannot serialise a circular value (at ${pointer || '/'})`);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      return `[${obj.map((v, i) => encode(v, String(i), seen, `${pointer}/${i}`) ?? 'null').join(',')}]`;
    }
    const parts: string[] = [];
    for (const k of Object.keys(obj).sort()) {
      const v = encode((obj as Record<string, unknown>)[k], k, seen, `${pointer}/${k}`);
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}
