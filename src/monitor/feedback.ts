/**
 * The feedback loop: logged predictions joined with what happened afterwards (real outcomes and
 * human overrides) into a retraining dataset, with provenance: which log files and outcome files,
 * how many rows matched, and what did not.
 */
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import { writeAtomically, writeFileAtomic } from '../io/atomic.js';
import { duckdbError, withConnection } from '../io/duckdb.js';
import { detectFormat, sourceSql, sqlIdent, sqlString, type ReadOptions } from '../io/formats.js';
import { digestFile } from '../lineage/hash.js';
import { RunReceipt, writeReceipt } from '../lineage/receipt.js';
import { predictionLogFiles } from '../serve/prediction-log.js';

/** What `kiln feedback merge` joins. */
export interface FeedbackMergeOptions {
  /** A prediction log folder (predictions-*.ndjson) or one log file. */
  predictions: string;
  /** Outcome files: an id column, an outcome column and optionally a kind column ('outcome' | 'override'). */
  outcomes: string[];
  /** The retraining dataset to write (.parquet, .csv or .ndjson), atomically. */
  out: string;
  /** Id column of the outcome (and features) files (default 'id'). */
  idColumn?: string;
  /** Outcome column (default 'outcome'). */
  outcomeColumn?: string;
  /** Column saying whether a row is a real 'outcome' or a human 'override' (default 'kind'; absent: all outcomes). */
  kindColumn?: string;
  /** Optional feature rows (joined on the id column) so the dataset can be trained on directly. */
  features?: string;
  /** How to read the outcome and feature files. */
  read?: ReadOptions;
}

/** Counts of a merge (also in the provenance file and the receipt). */
export interface FeedbackCounts {
  predictions: number;
  /** Log lines for an id already logged (the latest one is kept). */
  duplicatePredictions: number;
  outcomes: number;
  overrides: number;
  /** Predictions that got a label (from an outcome, else an override). */
  matched: number;
  matchedByOutcome: number;
  matchedByOverride: number;
  /** Logged predictions without any outcome or override. */
  unmatchedPredictions: number;
  /** Outcome or override rows whose id was never logged. */
  unmatchedOutcomes: number;
  /** Ids with several outcomes (or several overrides) that disagree; the last row of the file wins. */
  conflicts: number;
  /** Matched rows without a row in --features (only with features). */
  missingFeatures: number;
}

/** The result of a merge. */
export interface FeedbackMergeResult {
  out: string;
  rows: number;
  counts: FeedbackCounts;
  provenancePath: string;
  receiptPath: string;
}

const COUNT_KEYS: Array<keyof FeedbackCounts> = ['predictions', 'duplicatePredictions', 'outcomes', 'overrides', 'matched', 'matchedByOutcome', 'matchedByOverride', 'unmatchedPredictions', 'unmatchedOutcomes', 'conflicts', 'missingFeatures'];

/** Joins logged predictions with outcomes and overrides into a retraining dataset (nothing is written on error). */
export async function mergeFeedback(opts: FeedbackMergeOptions): Promise<FeedbackMergeResult> {
  const logs = predictionLogFiles(opts.predictions);
  if (logs.length === 0) throw new KilnError('E_IO', `no prediction log files (predictions-*.ndjson) in ${opts.predictions}`, { file: opts.predictions });
  if (opts.outcomes.length === 0) throw new KilnError('E_USAGE', 'feedback merge needs at least one --outcomes file');
  const format = detectFormat(opts.out);
  if (format === 'arrow') throw new KilnError('E_USAGE', 'feedback merge writes .parquet, .csv or .ndjson');
  const id = opts.idColumn ?? 'id';
  const outcome = opts.outcomeColumn ?? 'outcome';
  const kind = opts.kindColumn ?? 'kind';
  const read = opts.read ?? {};
  const inputs = [...logs, ...opts.outcomes, ...(opts.features ? [opts.features] : [])];
  const receipt = await RunReceipt.start('feedback merge', { config: { idColumn: id, outcomeColumn: outcome, kindColumn: kind, out: path.resolve(opts.out) }, inputs });

  const { counts, rows } = await withConnection(async (conn) => {
    const q = async (sql: string): Promise<Array<Record<string, unknown>>> => {
      try {
        return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
      } catch (err) {
        throw duckdbError(err, { predictions: opts.predictions });
      }
    };
    const columnsOf = async (file: string): Promise<string[]> => (await q(`DESCRIBE SELECT * FROM ${sourceSql(file, read)}`)).map((r) => String(r.column_name));
    const logList = `[${logs.map(sqlString).join(', ')}]`;
    await q(`CREATE TEMP TABLE logged AS
      SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY id ORDER BY "time" DESC, file_order DESC, line DESC) AS latest
        FROM (
          SELECT id, model, modelVersion, featureHash, output, label, CAST("time" AS TIMESTAMP) AS "time",
                 filename AS file_order, row_number() OVER (PARTITION BY filename) AS line
          FROM read_json(${logList}, format = 'newline_delimited', filename = true,
            columns = { id: 'VARCHAR', model: 'VARCHAR', modelVersion: 'VARCHAR', featureHash: 'VARCHAR', output: 'JSON', label: 'VARCHAR', "time": 'VARCHAR' })
        )
      )`);
    const parts: string[] = [];
    for (const [k, file] of opts.outcomes.entries()) {
      const cols = await columnsOf(file);
      for (const need of [id, outcome]) if (!cols.includes(need)) throw new KilnError('E_SCHEMA', `outcome file ${file} has no column "${need}" (columns: ${cols.join(', ')})`, { file, column: need });
      const kindExpr = cols.includes(kind) ? `lower(CAST(${sqlIdent(kind)} AS VARCHAR))` : `'outcome'`;
      const text = { ...read, textColumns: [id, outcome, ...(cols.includes(kind) ? [kind] : [])] };
      parts.push(`SELECT CAST(${sqlIdent(id)} AS VARCHAR) AS id, CAST(${sqlIdent(outcome)} AS VARCHAR) AS value, ${kindExpr} AS kind, ${k} AS file_order, row_number() OVER () AS line FROM ${sourceSql(file, text)}`);
    }
    await q(`CREATE TEMP TABLE feedback AS ${parts.join(' UNION ALL ')}`);
    const badKinds = await q(`SELECT DISTINCT kind FROM feedback WHERE kind IS NULL OR kind NOT IN ('outcome', 'override') LIMIT 5`);
    if (badKinds.length > 0) throw new KilnError('E_SCHEMA', `column "${kind}" must say 'outcome' or 'override' (found ${badKinds.map((r) => JSON.stringify(r.kind)).join(', ')})`, { column: kind });
    const missingIds = await q(`SELECT count(*) AS n FROM feedback WHERE id IS NULL OR value IS NULL`);
    if (Number(missingIds[0]!.n) > 0) throw new KilnError('E_SCHEMA', `${Number(missingIds[0]!.n)} outcome rows have no "${id}" or no "${outcome}"`, { column: outcome });
    await q(`CREATE TEMP TABLE last_feedback AS
      SELECT id, kind, value, n_values FROM (
        SELECT id, kind, value, count(DISTINCT value) OVER (PARTITION BY id, kind) AS n_values,
               row_number() OVER (PARTITION BY id, kind ORDER BY file_order DESC, line DESC) AS r
        FROM feedback
      ) WHERE r = 1`);
    let featureJoin = '';
    let featureCols = '';
    if (opts.features) {
      const cols = await columnsOf(opts.features);
      if (!cols.includes(id)) throw new KilnError('E_SCHEMA', `features file ${opts.features} has no column "${id}"`, { file: opts.features, column: id });
      const clash = cols.find((c) => c !== id && ['model', 'model_version', 'feature_hash', 'output', 'predicted_label', 'predicted_at', 'label', 'label_source'].includes(c));
      if (clash) throw new KilnError('E_SCHEMA', `features file column "${clash}" collides with a column of the dataset`, { column: clash });
      await q(`CREATE TEMP TABLE feature_rows AS SELECT * EXCLUDE (__r) FROM (SELECT *, row_number() OVER (PARTITION BY CAST(${sqlIdent(id)} AS VARCHAR)) AS __r FROM ${sourceSql(opts.features, { ...read, textColumns: [id] })}) WHERE __r = 1`);
      featureJoin = `LEFT JOIN feature_rows f ON CAST(f.${sqlIdent(id)} AS VARCHAR) = p.id`;
      featureCols = cols.filter((c) => c !== id).map((c) => `, f.${sqlIdent(c)}`).join('');
    }
    const numericOutput = Boolean((await q(`SELECT coalesce(bool_and(json_type(output) IN ('DOUBLE', 'UBIGINT', 'BIGINT')), true) AS ok FROM logged`))[0]!.ok);
    const outputExpr = numericOutput ? 'CAST(p.output AS DOUBLE)' : 'CAST(p.output AS VARCHAR)';
    await q(`CREATE TEMP TABLE dataset AS
      SELECT p.id AS ${sqlIdent(id)}, p.model, p.modelVersion AS model_version, p.featureHash AS feature_hash, ${outputExpr} AS output, p.label AS predicted_label,
             p."time" AS predicted_at, coalesce(o.value, v.value) AS label, CASE WHEN o.value IS NOT NULL THEN 'outcome' ELSE 'override' END AS label_source,
             ${opts.features ? `f.${sqlIdent(id)} IS NOT NULL` : 'true'} AS __has_features${featureCols}
      FROM logged p
      LEFT JOIN last_feedback o ON o.id = p.id AND o.kind = 'outcome'
      LEFT JOIN last_feedback v ON v.id = p.id AND v.kind = 'override'
      ${featureJoin}
      WHERE p.latest = 1 AND (o.value IS NOT NULL OR v.value IS NOT NULL)
      ORDER BY p."time", p.id`);
    const one = async (sql: string): Promise<number> => Number((await q(sql))[0]!.n);
    const c: FeedbackCounts = {
      predictions: await one(`SELECT count(*) AS n FROM logged WHERE latest = 1`),
      duplicatePredictions: await one(`SELECT count(*) AS n FROM logged WHERE latest > 1`),
      outcomes: await one(`SELECT count(*) AS n FROM feedback WHERE kind = 'outcome'`),
      overrides: await one(`SELECT count(*) AS n FROM feedback WHERE kind = 'override'`),
      matched: await one(`SELECT count(*) AS n FROM dataset`),
      matchedByOutcome: await one(`SELECT count(*) AS n FROM dataset WHERE label_source = 'outcome'`),
      matchedByOverride: await one(`SELECT count(*) AS n FROM dataset WHERE label_source = 'override'`),
      unmatchedPredictions: 0,
      unmatchedOutcomes: await one(`SELECT count(*) AS n FROM feedback WHERE id NOT IN (SELECT id FROM logged)`),
      conflicts: await one(`SELECT count(DISTINCT id) AS n FROM last_feedback WHERE n_values > 1`),
      missingFeatures: opts.features ? await one(`SELECT count(*) AS n FROM dataset WHERE NOT __has_features`) : 0,
    };
    c.unmatchedPredictions = c.predictions - c.matched;
    const fmt = format === 'ndjson' ? '(FORMAT json)' : format === 'csv' ? '(FORMAT csv, HEADER true)' : '(FORMAT parquet)';
    await writeAtomically(opts.out, async (tmp) => {
      try {
        await conn.run(`COPY (SELECT * EXCLUDE (__has_features) FROM dataset ORDER BY predicted_at, ${sqlIdent(id)}) TO ${sqlString(tmp)} ${fmt}`);
      } catch (err) {
        throw duckdbError(err, { file: opts.out });
      }
    });
    return { counts: c, rows: c.matched };
  });

  const provenancePath = `${opts.out}.provenance.json`;
  const describe = async (file: string, role: string): Promise<Record<string, unknown>> => ({ role, path: path.resolve(file), ...(await digestFile(file)) });
  const provenance = {
    kind: 'kiln.feedback-provenance',
    version: 1,
    createdAt: new Date().toISOString(),
    dataset: path.resolve(opts.out),
    rules: {
      join: `logged prediction id = outcome ${id}`,
      duplicates: 'the latest logged prediction of an id is kept',
      precedence: "a real outcome wins over a human override; within a kind the last row of the last file wins",
    },
    inputs: [...(await Promise.all(logs.map((f) => describe(f, 'prediction-log')))), ...(await Promise.all(opts.outcomes.map((f) => describe(f, 'outcomes')))), ...(opts.features ? [await describe(opts.features, 'features')] : [])],
    counts,
  };
  await writeFileAtomic(provenancePath, JSON.stringify(provenance, null, 2) + '\n');
  const record = await receipt.finish({ outputs: [opts.out, provenancePath], counts: Object.fromEntries(COUNT_KEYS.map((k) => [k, counts[k]])) });
  const receiptPath = await writeReceipt(record, opts.out);
  return { out: opts.out, rows, counts, provenancePath, receiptPath };
}

