/**
 * Training on `kiln features` output: the defaults its feature-schema.json implies (label, entity,
 * time) and `--validate-features`, which checks the training features before anything is fitted.
 */
import fs from 'node:fs';
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import { isValidBit, type ColumnBatch } from '../batch/column-batch.js';
import { readFeatureSchema, type FeatureSchema } from '../features/schema-doc.js';

import type { TrainConfigFile } from './config.js';

/** The feature-schema.json beside a training file written by `kiln features`, or null. */
export function featureSchemaBeside(trainFile: string): FeatureSchema | null {
  const file = path.join(path.dirname(trainFile), 'feature-schema.json');
  return fs.existsSync(file) ? readFeatureSchema(file) : null;
}

/** Config defaults from a feature schema (label as target, its entity and time); explicit config wins. */
export function withFeatureSchemaDefaults(cfg: TrainConfigFile, schema: FeatureSchema | null): TrainConfigFile {
  if (schema === null) return cfg;
  const data = { ...(cfg.data ?? {}) };
  if (data.target === undefined && schema.label) data.target = schema.label.name;
  if (data.entity === undefined && schema.entity) data.entity = schema.entity;
  if (data.time === undefined && schema.time) data.time = schema.time;
  return { ...cfg, data };
}

/**
 * --validate-features: over the first `limit` rows (all when null) every feature column must have
 * a value somewhere and numeric values must be finite; with a feature schema, every feature column
 * must be one the schema declares, with the declared type. Throws E_VALIDATION naming the column and
 * the 1-based row.
 */
export function validateTrainingFeatures(batch: ColumnBatch, features: string[], opts: { file: string; limit: number | null; schema: FeatureSchema | null }): { rowsChecked: number } {
  const rows = opts.limit === null ? batch.numRows : Math.min(opts.limit, batch.numRows);
  const declared = opts.schema ? new Map(opts.schema.columns.map((c) => [c.name, c])) : null;
  for (const name of features) {
    const col = batch.column(name);
    if (declared) {
      const d = declared.get(name);
      if (!d) throw new KilnError('E_VALIDATION', `validate-features: column "${name}" of ${opts.file} is not in its feature-schema.json`, { file: opts.file, column: name });
      if (d.type !== col.type) throw new KilnError('E_VALIDATION', `validate-features: column "${name}" of ${opts.file} is ${col.type}, feature-schema.json declares ${d.type}`, { file: opts.file, column: name });
    }
    let present = 0;
    const numeric = col.type === 'float32' || col.type === 'float64';
    for (let i = 0; i < rows; i++) {
      if (!isValidBit(col.validity, i)) continue;
      present++;
      if (numeric) {
        const v = (col.values as Float32Array | Float64Array)[i]!;
        if (!Number.isFinite(v)) {
          throw new KilnError('E_VALIDATION', `validate-features: column "${name}" is ${Number.isNaN(v) ? 'NaN' : 'infinite'} at row ${i + 1} of ${opts.file}`, { file: opts.file, column: name, row: i + 1 });
        }
      }
    }
    if (rows > 0 && present === 0) throw new KilnError('E_VALIDATION', `validate-features: column "${name}" is missing in every one of the first ${rows} rows of ${opts.file}`, { file: opts.file, column: name });
  }
  return { rowsChecked: rows };
}
