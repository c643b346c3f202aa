import type { Command } from 'commander';
import { Option } from 'commander';
import { buildFeatures, type BuildFeaturesResult } from '../../src/index.js';
import { action, intOption, printJson, withCancellation, withExamples } from '../common.js';
import { createProgress, wantsLiveProgress } from '../ui/progress.js';

interface FeaturesFlags {
  spec?: string;
  outDir: string;
  stream?: boolean;
  inputFormat: 'auto' | 'csv' | 'parquet' | 'ndjson';
  validateIn?: boolean;
  validateOut?: boolean;
  validateLimit?: number;
  memoryLimit?: string;
  json?: boolean;
}

/** Human summary of a feature build. */
export function formatFeaturesSummary(r: BuildFeaturesResult): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const lines = [
    `features → ${r.outDir}`,
    `  input rows   ${n(r.counts.inputRows)}${r.counts.duplicatesDropped ? `  (${n(r.counts.duplicatesDropped)} duplicates dropped)` : ''}`,
    `  output rows  ${n(r.counts.rows)}  × ${r.schema.columns.length} columns (${r.schema.features.length} features)`,
  ];
  for (const [split, rows] of Object.entries(r.rows)) lines.push(`    ${`${split}.parquet`.padEnd(18)} ${n(rows)}`);
  for (const [f, count] of Object.entries(r.counts.unseen)) lines.push(`  unseen       ${f}: ${n(count)}`);
  lines.push(`  schema       ${r.schemaFile}`, `  manifest     ${r.manifestFile}`, `  receipt      ${r.receiptFile}`, `  time         ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}

/** Registers `kiln features`. */
export function registerFeatures(program: Command): void {
  const cmd = program
    .command('features')
    .description(
      'Build features from a declarative spec (YAML/JSON): DuckDB SQL windows, cross-asset and calendar features, native hashed TF-IDF and category encoders fitted on the training split; writes features.parquet or train/valid/test.parquet, feature-schema.json, a manifest and a receipt into --out-dir, atomically',
    )
    .argument('<input-or-spec>', 'the spec file, or (with --spec) a data file read as the relation `input`')
    .option('--spec <file>', 'feature spec (YAML or JSON); then <input-or-spec> is the input data file')
    .requiredOption('--out-dir <dir>', 'output folder (replaced only when the whole build succeeds)')
    .option('--stream', 'stream the rows as ColumnBatches through the encoders even when DuckDB could write the files directly')
    .addOption(new Option('--input-format <format>', 'format of the input data file').choices(['auto', 'csv', 'parquet', 'ndjson']).default('auto'))
    .option('--validate-in', 'check input columns, types, keys, NaN/inf and declared ranges (exit 1 naming column and row)')
    .option('--validate-out', 'check the written files: schema, NaN/inf where not allowed, declared ranges (exit 1 naming column and row)')
    .option('--validate-limit <n>', 'validate only the first N rows (of the input, and of each output file)', intOption('--validate-limit', 1))
    .option('--memory-limit <size>', "DuckDB memory limit of the build, e.g. 512MB (it spills beyond it)", '1GB')
    .option('--json', 'machine-readable summary on stdout')
    .action(
      action(async (inputOrSpec: string, flags: FeaturesFlags) => {
        const specFile = flags.spec ?? inputOrSpec;
        const input = flags.spec ? inputOrSpec : undefined;
        const progress = createProgress({ live: wantsLiveProgress(Boolean(flags.json)) });
        let result: BuildFeaturesResult;
        try {
          result = await withCancellation((signal) =>
            buildFeatures(specFile, {
              outDir: flags.outDir,
              input,
              inputFormat: flags.inputFormat,
              stream: flags.stream,
              validateIn: flags.validateIn,
              validateOut: flags.validateOut,
              validateLimit: flags.validateLimit,
              memoryLimit: flags.memoryLimit,
              signal,
              onProgress: (p) => progress.update({ stage: p.detail ? `${p.stage} (${p.detail})` : p.stage, done: p.rows ?? 0, total: p.rows === undefined ? 1 : (p.totalRows ?? 0), unit: 'rows' }),
            }),
          );
        } finally {
          await progress.stop();
        }
        if (flags.json) printJson({ ok: true, outDir: result.outDir, files: result.files, rows: result.rows, counts: result.counts, schema: result.schemaFile, manifest: result.manifestFile, receipt: result.receiptFile, durationMs: result.durationMs });
        else process.stdout.write(formatFeaturesSummary(result) + '\n');
      }),
    );
  withExamples(
    cmd,
    'kiln features examples/crypto/features.yaml --out-dir .kiln/crypto-features --validate-in --validate-out',
    'kiln features examples/quickstart-events/events.parquet --spec examples/quickstart-events/features.yaml --out-dir .kiln/quickstart-features --stream --validate-in --validate-out --validate-limit 500',
    'kiln features examples/ledger/features.yaml --out-dir .kiln/ledger-features --json',
  );
}
