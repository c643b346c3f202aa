import fs from 'node:fs';
import { KilnError } from '../../bindings/errors.js';
import type { ColumnType } from '../batch/column-batch.js';
import { compileSchema } from '../validate/schema.js';
import { schemaPath } from '../version.js';
import type { FittedEncoder, UnseenCounts } from './encode.js';
import type { InputColumn } from './plan.js';
import type { FeatureDef, FeatureSpec } from './spec.js';

export const FEATURE_SCHEMA_KIND = 'kiln.feature-schema';

/** An output column of a feature build. */
export interface FeatureSchemaColumn {
  name: string;
  type: ColumnType;
  duckdbType: string;
  role: 'entity' | 'time' | 'feature' | 'label';
}

/** Summary statistics of a numeric output column. */
export interface ColumnStats {
  count: number;
  missing: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
}

/** feature-schema.json (schemas/feature-schema.schema.json). */
export interface FeatureSchema {
  kind: typeof FEATURE_SCHEMA_KIND;
  version: 1;
  createdAt: string;
  kilnVersion: string;
  specHash: string;
  spec: FeatureSpec;
  entity: string | null;
  time: string | null;
  label: { name: string; type: ColumnType } | null;
  split: FeatureSpec['split'] | null;
  columns: FeatureSchemaColumn[];
  inputColumns: InputColumn[];
  features: Array<{ name: string; kind: FeatureDef['kind']; outputs: string[]; encoder?: FittedEncoder }>;
  stats: Record<string, ColumnStats>;
  files: Record<string, { file: string; rows: number }>;
  counts: { inputRows: number; duplicatesDropped: number; rows: number; unseen: UnseenCounts };
}

/** Throws E_SCHEMA unless `doc` matches schemas/feature-schema.schema.json. */
export function assertValidFeatureSchema(doc: unknown, where: string): asserts doc is FeatureSchema {
  const obj = doc as { kind?: unknown; version?: unknown } | null;
  if (obj === null || typeof obj !== 'object') throw new KilnError('E_SCHEMA', `${where} is not a kiln feature schema (not an object)`);
  if (obj.kind !== FEATURE_SCHEMA_KIND) throw new KilnError('E_SCHEMA', `${where} is not a kiln feature schema (kind is ${JSON.stringify(obj.kind ?? null)})`);
  if (obj.version !== 1) throw new KilnError('E_SCHEMA', `${where} has version ${JSON.stringify(obj.version ?? null)}; this kiln reads feature schema version 1 only`);
  const { validate } = compileSchema(schemaPath('feature-schema.schema.json'), { allErrors: true });
  if (!validate(doc)) {
    const msgs = (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
    throw new KilnError('E_SCHEMA', `${where} does not match schemas/feature-schema.schema.json: ${msgs.join('; ')}`, { errors: msgs });
  }
}

/** Reads and checks a feature-schema.json. */
export function readFeatureSchema(file: string): FeatureSchema {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new KilnError('E_IO', `cannot read feature schema ${file}: ${(err as Error).message}`, { file });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new KilnError('E_SCHEMA', `feature schema ${file} is not valid JSON: ${(err as Error).message}`, { file });
  }
  assertValidFeatureSchema(doc, `feature schema ${file}`);
  return doc;
}
