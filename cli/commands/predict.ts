import type { Command } from 'commander';
import { scoreFile } from '../../src/index.js';
import { action, intOption, printJson, withCancellation, withExamples } from '../common.js';

interface PredictFlags {
  model: string;
  data: string;
  out: string;
  labels?: boolean;
  keep?: string[];
  rowLimit?: number;
  delimiter?: string;
  null?: string[];
  skip?: number;
  logDir?: string;
  id?: string;
  json?: boolean;
}

/** Registers `kiln predict`: batch scoring of a file with a saved or registered model. */
export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('Score a file with a saved model (calibrated probabilities; --labels applies the stored threshold and class names), streamed in batches')
    .requiredOption('--model <ref>', 'model file (model.json) or registry:<name>[@<version>]')
    .requiredOption('--data <file>', 'rows to score: CSV, Parquet or NDJSON with the model\'s feature columns')
    .requiredOption('--out <file>', 'output: .csv, .ndjson or .parquet (written atomically)')
    .option('--labels', 'add the predicted label (the threshold and class names stored in the model)')
    .option('--keep <columns...>', 'input columns copied into the output first, e.g. an id')
    .option('--row-limit <n>', 'score at most this many rows', intOption('--row-limit', 1))
    .option('--delimiter <char>', 'CSV separator (default: detected)')
    .option('--null <strings...>', 'CSV strings read as missing, e.g. ?')
    .option('--skip <n>', 'CSV lines to skip before the header', intOption('--skip'))
    .option('--log-dir <dir>', 'log every prediction (id, model version, feature hash, output, label, time) to rotating NDJSON files, for kiln feedback merge')
    .option('--id <column>', 'the column that identifies each row in the prediction log (default: <file name>:<row number>)')
    .option('--json', 'machine-readable summary on stdout')
    .action(
      action(async (flags: PredictFlags) => {
        const started = performance.now();
        const res = await withCancellation((signal) =>
          scoreFile(flags.model, flags.data, flags.out, {
            labels: flags.labels,
            ...(flags.keep ? { keep: flags.keep } : {}),
            ...(flags.rowLimit ? { rowLimit: flags.rowLimit } : {}),
            ...(flags.delimiter !== undefined ? { delimiter: flags.delimiter } : {}),
            ...(flags.null ? { nullStrings: flags.null } : {}),
            ...(flags.skip !== undefined ? { skip: flags.skip } : {}),
            ...(flags.logDir !== undefined ? { logDir: flags.logDir } : {}),
            ...(flags.id !== undefined ? { idColumn: flags.id } : {}),
            signal,
            onProgress: flags.json ? undefined : (rows) => process.stderr.write(`kiln: scored ${rows} rows\n`),
          }),
        );
        const seconds = (performance.now() - started) / 1000;
        if (flags.json) printJson({ ok: true, ...res, seconds });
        else {
          process.stdout.write(
            [
              `predict ${res.model}: ${res.rows} rows → ${res.file} (${res.format})`,
              `  task        ${res.task}${res.calibrated ? ', calibrated' : ''}${res.threshold !== null && flags.labels ? `, threshold ${res.threshold}` : ''}`,
              `  columns     ${res.columns.join(', ')}`,
              ...(flags.logDir !== undefined ? [`  logged      ${res.logged} predictions in ${flags.logDir}`] : []),
              `  time        ${seconds.toFixed(2)} s`,
            ].join('\n') + '\n',
          );
        }
      }),
    );
  withExamples(
    cmd,
    'kiln predict --model experiments/train_adult.data_20261123_081500/model.json --data ../shared/datasets/adult/adult.test.csv --out scores.csv --labels',
    'kiln predict --model registry:adult --data new.parquet --out scores.parquet --keep id --json',
    'kiln predict --model registry:adult --data requests.csv --out scores.csv --labels --id request_id --log-dir .kiln/predictions',
  );
}
