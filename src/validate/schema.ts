import Ajv2020Module from 'ajv/dist/2020.js';
import AjvDraft7Module from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv';
import fs from 'node:fs';
import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { PACKAGE_ROOT } from '../version.js';
import { isRfc3339DateTime } from './formats.js';

// ajv ships CommonJS default exports; under NodeNext they arrive as namespace objects.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;
const AjvDraft7 = ((AjvDraft7Module as unknown as { default?: unknown }).default ?? AjvDraft7Module) as typeof AjvDraft7Module.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default;

/** A compiled validator with the schema's source (path or builtin name). */
export interface CompiledSchema {
  source: string;
  schema: Record<string, unknown>;
  validate: ValidateFunction;
}

/** Names of schemas shipped in schemas/ and usable as `builtin:<name>`. */
export function builtinSchemas(): string[] {
  return fs
    .readdirSync(path.join(PACKAGE_ROOT, 'schemas'))
    .filter((f) => f.endsWith('.schema.json'))
    .map((f) => f.replace(/\.schema\.json$/, ''))
    .sort();
}

/** Resolves `builtin:<name>` or a file path to an absolute schema file path. */
export function resolveSchemaRef(ref: string): string {
  if (ref.startsWith('builtin:')) {
    const name = ref.slice('builtin:'.length);
    const file = path.join(PACKAGE_ROOT, 'schemas', `${name}.schema.json`);
    if (!fs.existsSync(file)) throw new KilnError('E_USAGE', `unknown builtin schema "${name}" (have: ${builtinSchemas().join(', ')})`);
    return file;
  }
  if (!fs.existsSync(ref)) throw new KilnError('E_IO', `schema file not found: ${ref}`, { file: ref });
  return path.resolve(ref);
}

const cache = new Map<string, CompiledSchema>();

/** Loads and compiles a JSON Schema (2020-12 or draft-07, formats enabled), cached per file. */
export function compileSchema(ref: string, opts: { allErrors?: boolean } = {}): CompiledSchema {
  const file = resolveSchemaRef(ref);
  const key = `${file}|${opts.allErrors ? 1 : 0}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let schema: Record<string, unknown>;
  try {
    schema = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new KilnError('E_SCHEMA', `schema ${file} is not valid JSON: ${(err as Error).message}`, { file });
  }
  const draft7 = typeof schema.$schema === 'string' && /draft-0[4-7]/.test(schema.$schema);
  const ajv = draft7 ? new AjvDraft7({ allErrors: Boolean(opts.allErrors), strict: false }) : new Ajv2020({ allErrors: Boolean(opts.allErrors), strict: false });
  addFormats(ajv);
  ajv.addFormat('date-time', { type: 'string', validate: isRfc3339DateTime });
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new KilnError('E_SCHEMA', `schema ${file} does not compile: ${(err as Error).message}`, { file });
  }
  const compiled = { source: ref, schema, validate };
  cache.set(key, compiled);
  return compiled;
}

/** The JSON pointer and a readable message of an ajv error. */
export function describeAjvError(e: ErrorObject): { pointer: string; message: string } {
  let pointer = e.instancePath;
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required' && typeof params.missingProperty === 'string') pointer += `/${escapePointer(params.missingProperty)}`;
  if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') pointer += `/${escapePointer(params.additionalProperty)}`;
  let message = e.message ?? e.keyword;
  if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) message = `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'additionalProperties') message = `unexpected property "${String(params.additionalProperty)}"`;
  if (e.keyword === 'required') message = `missing required property "${String(params.missingProperty)}"`;
  return { pointer, message };
}

/** Escapes one JSON pointer segment. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Validates a config-like object against a builtin schema, throwing E_SCHEMA naming the field. */
export function assertValid(ref: string, value: unknown, what: string): void {
  const { validate } = compileSchema(ref, { allErrors: true });
  if (!validate(value)) {
    const msgs = (validate.errors ?? []).map((e) => {
      const d = describeAjvError(e);
      return `${d.pointer || '/'}: ${d.message}`;
    });
    throw new KilnError('E_SCHEMA', `${what} is invalid: ${msgs.join('; ')}`, { errors: msgs });
  }
}
