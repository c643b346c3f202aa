import type { Command } from 'commander';
import { Option } from 'commander';
import { monitorModel, type HealthReport, type MonitorRunOptions } from '../../src/index.js';
import { EXIT, action, intOption, numberOption, printJson, withExamples } from '../common.js';

interface MonitorFlags extends Pick<MonitorRunOptions, 'model' | 'data' | 'labels' | 'time' | 'reference' | 'baseline'> {
  window?: number;
  out?: string[];
  maxDrop?: number;
  maxEce?: number;
  maxDriftShare?: number;
  minLabelled?: number;
  null?: string[];
  delimiter?: string;
  failOn?: 'warning' | 'critical';
  json?: boolean;
}

/** Human summary of a health report. */
export function formatHealth(r: HealthReport): string {
  const lines = [`model health: ${r.overall.toUpperCase()}${r.requiresRetraining ? ' (retraining required)' : ''}`, `  window       ${r.window.rows} rows, ${r.window.labelled} labelled`];
  if (r.performance) {
    lines.push(`  performance  ${r.performance.metric} ${r.performance.value === null ? '–' : r.performance.value.toFixed(4)}${r.performance.baseline !== null ? ` (baseline ${r.performance.baseline.toFixed(4)}, ${Math.abs(r.performance.relativeDrop!) < 0.0005 ? 'no change' : `${(Math.abs(r.performance.relativeDrop!) * 100).toFixed(1)} % ${r.performance.relativeDrop! > 0 ? 'worse' : 'better'}`})` : ''}  ${r.performance.status}`);
  } else lines.push('  performance  not enough labelled rows');
  if (r.calibration) lines.push(`  calibration  brier ${r.calibration.brier.toFixed(4)}, ece ${r.calibration.ece.toFixed(4)}  ${r.calibration.status}`);
  const drifted = r.drift.features.filter((f) => f.drifted);
  lines.push(`  drift        ${drifted.length} of ${r.drift.features.length} features${drifted.length ? `: ${drifted.slice(0, 6).map((f) => `${f.name} (${f.method} ${f.score.toFixed(3)})`).join(', ')}` : ''}${r.drift.predictionDrift ? '; predictions drifted' : ''}  ${r.drift.status}`);
  if (r.ensembleDisagreement !== null) lines.push(`  ensemble     mean member disagreement ${r.ensembleDisagreement.toFixed(4)}`);
  for (const rec of r.recommendations) lines.push(`  → ${rec}`);
  return lines.join('\n');
}

/** Registers `kiln monitor`: model health on a window of recent rows. */
export function registerMonitor(program: Command): void {
  const cmd = program
    .command('monitor')
    .description('Health of a model on a window of recent rows: performance on labelled rows, feature and prediction drift against the training data, calibration, recommendations')
    .requiredOption('--model <ref>', 'model file or registry:<name>[@<version>]')
    .requiredOption('--data <file>', 'the window: recent rows with the model\'s feature columns (CSV, Parquet, NDJSON)')
    .option('--labels <column>', 'column with the true labels of the window (missing values allowed)')
    .option('--time <column>', 'column with the time of each row')
    .option('--reference <file>', 'training features to compare with (default: the training data recorded with the model\'s run)')
    .option('--baseline <f1>', 'expected F1 (RMSE for regression); default: the run\'s test metric', numberOption('--baseline', 0, Number.MAX_VALUE))
    .option('--window <rows>', 'rows of --data to use (default: all, at most 1,000,000)', intOption('--window', 1))
    .option('--out <files...>', 'write the report: .json, .html, .prom (Prometheus gauges)')
    .option('--max-drop <fraction>', 'relative performance drop that warns (twice is critical)', numberOption('--max-drop', 0, 1))
    .option('--max-ece <value>', 'calibration error that warns', numberOption('--max-ece', 0, 1))
    .option('--max-drift-share <fraction>', 'share of drifted features that is critical', numberOption('--max-drift-share', 0, 1))
    .option('--min-labelled <rows>', 'labelled rows needed to judge performance', intOption('--min-labelled', 1))
    .option('--null <strings...>', 'CSV strings read as missing')
    .option('--delimiter <char>', 'CSV separator (default: detected)')
    .addOption(new Option('--fail-on <level>', 'exit 1 when the overall health is this bad or worse').choices(['warning', 'critical']))
    .option('--json', 'the report as JSON on stdout')
    .action(
      action(async (flags: MonitorFlags) => {
        const log = flags.json ? () => {} : (line: string) => process.stderr.write(`kiln: ${line}\n`);
        const report = await monitorModel({
          model: flags.model,
          data: flags.data,
          ...(flags.labels !== undefined ? { labels: flags.labels } : {}),
          ...(flags.time !== undefined ? { time: flags.time } : {}),
          ...(flags.reference !== undefined ? { reference: flags.reference } : {}),
          ...(flags.baseline !== undefined ? { baseline: flags.baseline } : {}),
          ...(flags.window !== undefined ? { windowSize: flags.window } : {}),
          read: { ...(flags.null ? { nullStrings: flags.null } : {}), ...(flags.delimiter !== undefined ? { delimiter: flags.delimiter } : {}) },
          monitor: {
            ...(flags.maxDrop !== undefined ? { maxPerformanceDrop: flags.maxDrop } : {}),
            ...(flags.maxEce !== undefined ? { maxEce: flags.maxEce } : {}),
            ...(flags.maxDriftShare !== undefined ? { maxDriftShare: flags.maxDriftShare } : {}),
            ...(flags.minLabelled !== undefined ? { minLabelled: flags.minLabelled } : {}),
          },
          outputs: flags.out ?? [],
          log,
        });
        if (flags.json) printJson(report);
        else process.stdout.write(formatHealth(report) + '\n');
        const failing = flags.failOn === 'warning' ? report.overall !== 'healthy' : flags.failOn === 'critical' ? report.overall === 'critical' : false;
        return failing ? EXIT.GATE : EXIT.OK;
      }),
    );
  withExamples(
    cmd,
    'kiln monitor --model registry:adult --data ../shared/datasets/adult/adult.test.csv --labels class',
    'kiln monitor --model experiments/train_adult.data_20261123_081500/model.json --data window.parquet --labels outcome --out health.json health.html health.prom --fail-on critical',
  );
}
