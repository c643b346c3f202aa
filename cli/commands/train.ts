import type { Command } from 'commander';
import { Option } from 'commander';
import { trainRun, runSummary, reproduceRun, type TrainRunResult } from '../../src/index.js';
import { action, EXIT, intOption, printJson, withCancellation, withExamples } from '../common.js';

interface TrainCliFlags {
  data: string;
  config?: string;
  validData?: string;
  testData?: string;
  target?: string;
  model?: 'gbdt' | 'logreg' | 'mlp' | 'stack';
  rowLimit?: number;
  minSamples?: number;
  seed?: number;
  symbol?: string;
  name?: string;
  threads?: number;
  outDir: string;
  output?: string;
  store?: string;
  copyData?: boolean;
  validateFeatures?: boolean;
  validateLimit?: number;
  register?: string;
  verbose?: boolean;
  json?: boolean;
}

/** Human summary of a run. */
export function formatTrainResult(r: TrainRunResult): string {
  const lines = [`train ${r.name}: ${r.task}${r.classes ? ` (${r.classes.join(', ')})` : ''}, ${r.features.length} features`];
  lines.push(`  rows        train ${r.rows.train}, valid ${r.rows.valid}, test ${r.rows.test}`);
  const shown = r.task === 'regression' ? ['rmse', 'mae', 'r2'] : ['rocAuc', 'prAuc', 'accuracy', 'f1', 'f1Macro', 'logLoss', 'brier', 'ece'];
  for (const [split, values] of Object.entries(r.evaluation.metrics)) {
    const v = values as Record<string, number>;
    lines.push(`  ${split.padEnd(11)} ${shown.filter((k) => Number.isFinite(v[k])).map((k) => `${k} ${v[k]!.toFixed(4)}`).join(', ')}`);
  }
  if (r.evaluation.threshold) lines.push(`  threshold   ${r.evaluation.threshold.value.toFixed(4)} (${r.evaluation.threshold.objective})`);
  lines.push(`  model       ${r.modelPath} (sha256 ${r.modelSha256.slice(0, 16)}…)`);
  lines.push(`  run         ${r.runId}  ${r.dir}`);
  if (r.registered) lines.push(`  registered  ${r.registered.name}@${r.registered.version}`);
  for (const w of r.warnings) lines.push(`  warning     ${w}`);
  lines.push(r.gate.passed ? '  gate        passed' : `  gate        FAILED: ${r.gate.failures.join('; ')}`);
  return lines.join('\n');
}

/** Registers `kiln train` and `kiln reproduce`. */
export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('Train a model as a recorded, reproducible run: experiment folder, metrics, calibration, threshold, model card, receipt and a row in the run store')
    .requiredOption('--data <path>', 'training data: CSV, Parquet or NDJSON file, or a `kiln features` output folder (train/valid/test.parquet)')
    .option('--config <file>', 'train config, YAML or JSON (schemas/train-config.schema.json)')
    .option('--valid-data <file>', 'validation rows (default: cut from --data)')
    .option('--test-data <file>', 'test rows (default: cut from --data)')
    .option('--target <column>', 'label column (default: label, class, y or target)')
    .addOption(new Option('--model <kind>', 'model kind').choices(['gbdt', 'logreg', 'mlp', 'stack']))
    .option('--row-limit <n>', 'read at most this many rows of each file (streamed)', intOption('--row-limit', 1))
    .option('--min-samples <n>', 'fail (exit 1) with fewer rows, or when a split lacks a class', intOption('--min-samples', 1))
    .option('--seed <n>', 'seed of the split, the model and calibration', intOption('--seed'))
    .option('--symbol <value>', 'only rows whose entity column (data.entity, default symbol) is this value, or a pair based on it (BTC selects BTC/USDT)')
    .option('--name <name>', 'run name (default: the data file name)')
    .option('--threads <n>', 'native threads (any count gives the same model)', intOption('--threads', 1))
    .option('--out-dir <dir>', 'parent folder of experiment folders', 'experiments')
    .option('--output <file>', 'also write the run summary (JSON) here')
    .option('--store <file>', 'run store (default .kiln/kiln.duckdb, or $KILN_HOME/kiln.duckdb)')
    .option('--copy-data', 'keep a content-addressed copy of the inputs in the dataset store')
    .option('--validate-features', 'check the features before fitting (finite numbers, no all-missing column, the types of feature-schema.json); exit 1 naming column and row')
    .option('--validate-limit <n>', 'rows --validate-features checks (default: all)', intOption('--validate-limit', 1))
    .option('--register <name>', 'register the model as the next version of <name> in the model registry when the run passes its gates')
    .option('--verbose', 'one line per boosting round')
    .option('--json', 'machine-readable summary on stdout')
    .action(
      action(async (flags: TrainCliFlags) => {
        const log = flags.json ? () => {} : (line: string) => process.stderr.write(`kiln: ${line}\n`);
        const result = await withCancellation((signal) =>
          trainRun({
            data: flags.data,
            validData: flags.validData,
            testData: flags.testData,
            config: flags.config,
            flags: {
              ...(flags.target !== undefined ? { target: flags.target } : {}),
              ...(flags.model !== undefined ? { model: flags.model } : {}),
              ...(flags.rowLimit !== undefined ? { rowLimit: flags.rowLimit } : {}),
              ...(flags.minSamples !== undefined ? { minSamples: flags.minSamples } : {}),
              ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
              ...(flags.symbol !== undefined ? { symbol: flags.symbol } : {}),
              ...(flags.name !== undefined ? { name: flags.name } : {}),
              ...(flags.threads !== undefined ? { numThreads: flags.threads } : {}),
            },
            outDir: flags.outDir,
            output: flags.output,
            ...(flags.store !== undefined ? { store: flags.store } : {}),
            copyData: flags.copyData,
            validateFeatures: flags.validateFeatures,
            ...(flags.validateLimit !== undefined ? { validateLimit: flags.validateLimit } : {}),
            ...(flags.register !== undefined ? { register: flags.register } : {}),
            verbose: flags.verbose,
            signal,
            log,
          }),
        );
        if (flags.json) printJson(runSummary(result));
        else process.stdout.write(formatTrainResult(result) + '\n');
        return result.gate.passed ? EXIT.OK : EXIT.GATE;
      }),
    );
  withExamples(
    cmd,
    'kiln train --data ../shared/datasets/adult/adult.data.csv --test-data ../shared/datasets/adult/adult.test.csv --target class',
    'kiln train --data features/ --config train.yaml --output results.json --symbol BTC/USDT --verbose',
    'kiln train --data data.csv --model logreg --row-limit 500 --min-samples 100 --json',
  );

  const rep = program
    .command('reproduce <run>')
    .description('Re-run a recorded training run (run id, id prefix, latest, or experiment folder): exit 2 if an input changed, 1 if the model hash differs')
    .option('--store <file>', 'run store (default .kiln/kiln.duckdb, or $KILN_HOME/kiln.duckdb)')
    .option('--json', 'machine-readable result on stdout')
    .action(
      action(async (run: string, flags: { store?: string; json?: boolean }) => {
        const log = flags.json ? () => {} : (line: string) => process.stderr.write(`kiln: ${line}\n`);
        const r = await withCancellation((signal) => reproduceRun(run, { ...(flags.store ? { store: flags.store } : {}), log, signal }));
        if (flags.json) printJson({ ok: r.match, ...r });
        else {
          process.stdout.write(
            [
              `reproduce ${r.runId} (${r.dir})`,
              ...r.inputs.map((i) => `  input     ${i.role} ${i.path}  sha256 ${i.sha256.slice(0, 16)}… unchanged`),
              `  recorded  ${r.expectedModelSha256}`,
              `  now       ${r.actualModelSha256}`,
              r.match ? '  result    identical model' : '  result    MODEL DIFFERS',
            ].join('\n') + '\n',
          );
        }
        return r.match ? EXIT.OK : EXIT.GATE;
      }),
    );
  withExamples(rep, 'kiln reproduce latest', 'kiln reproduce 3f2a9c1e', 'kiln reproduce experiments/train_adult_20261123_081500 --json');
}
