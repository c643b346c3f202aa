import type { Command } from 'commander';
import { detectFeatureDrift, DRIFT_METHODS, KilnError, renderDriftHtml, writeFileAtomic, type DriftMethod, type DriftReport } from '../../src/index.js';
import { action, EXIT, formatTable, intOption, numberOption, printJson, withExamples } from '../common.js';
import { createProgress, wantsLiveProgress } from '../ui/progress.js';

interface DriftFlags {
  reference: string;
  current: string;
  features?: string;
  categorical?: string;
  method: string;
  threshold?: number;
  alpha: number;
  bins: number;
  wasserstein?: boolean;
  prediction?: string;
  label?: string;
  out?: string;
  html?: string;
  failOnDrift?: boolean;
  delimiter?: string;
  skip?: number;
  null?: string[];
  memoryBudgetMb: number;
  threads: number;
  json?: boolean;
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new KilnError('E_USAGE', 'an empty column list was given');
  return parts;
}

/** Human summary of a drift report. */
export function formatDriftSummary(r: DriftReport): string {
  const num = (x: number | undefined): string => (x === undefined ? '–' : x === 0 ? '0' : Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(4));
  const rows = r.features.map((f) => [
    f.name + (f.role !== 'feature' ? ` (${f.role})` : ''),
    f.kind,
    f.drifted ? `DRIFT (${f.driftedBy.join(',')})` : 'ok',
    ...r.options.methods.map((m) => {
      const x = f[m];
      if (!x) return '–';
      const effect = m === 'ks' ? f.ks!.statistic : m === 'chi2' ? f.chi2!.cramersV : (x as { value: number }).value;
      return `${num(effect)} (q ${num(x.pAdjusted)})`;
    }),
  ]);
  const header = ['column', 'kind', 'verdict', ...r.options.methods.map((m) => (m === 'chi2' ? "chi2 V" : m))];
  return [
    `drift: ${r.reference.source} (${r.reference.rows.toLocaleString('en-US')} rows) → ${r.current.source} (${r.current.rows.toLocaleString('en-US')} rows)`,
    formatTable(header, rows),
    `${r.summary.drifted} of ${r.summary.features} columns drifted (effect > ${Object.entries(r.options.thresholds).map(([m, t]) => `${m} ${t}`).join(', ')} and BH-adjusted p ≤ ${r.options.alpha})`,
  ].join('\n');
}

/** Registers `kiln drift`. */
export function registerDrift(program: Command): void {
  const cmd = program
    .command('drift')
    .description(
      'Compare a current dataset with a reference: KS, PSI, KL, JS and chi-square per column (native, all cores); a column drifts when its effect is above threshold AND significant after Benjamini–Hochberg across columns. Files: CSV, NDJSON, Parquet, Arrow IPC.',
    )
    .requiredOption('--reference <file>', 'reference data (e.g. the training set)')
    .requiredOption('--current <file>', 'current data (e.g. last week of production)')
    .option('--features <a,b>', 'columns to compare (default: every column of the reference)')
    .option('--categorical <a,b>', 'columns compared as categories even when numeric')
    .option('--method <list>', `tests, comma-separated: ${DRIFT_METHODS.join(', ')}`, 'ks,psi')
    .option('--threshold <x>', 'effect-size threshold for every chosen method (defaults: ks 0.15, psi 0.2, kl 0.1, js 0.025, chi2 Cramér V 0.1)', numberOption('--threshold', 0, Number.MAX_VALUE))
    .option('--alpha <q>', 'false discovery rate of the Benjamini–Hochberg correction', numberOption('--alpha', 1e-12, 0.999999), 0.05)
    .option('--bins <n>', 'reference-quantile bins of numeric columns', intOption('--bins', 2), 10)
    .option('--wasserstein', 'also report Wasserstein-1 of numeric columns')
    .option('--prediction <column>', 'prediction column (reported as prediction drift)')
    .option('--label <column>', 'label column (reported as label drift)')
    .option('--out <file>', 'write the JSON report (schemas/drift-report.schema.json)')
    .option('--html <file>', 'write a self-contained HTML report with per-column histograms')
    .option('--fail-on-drift', 'exit 1 when any column drifted (CI gate)')
    .option('--delimiter <c>', 'CSV field separator (default: detected)')
    .option('--skip <n>', 'CSV lines to skip before the header (banners)', intOption('--skip', 0))
    .option('--null <string...>', 'CSV strings read as missing, e.g. --null "?"')
    .option('--memory-budget-mb <n>', 'memory for numeric columns held at once (files are read a column group at a time)', intOption('--memory-budget-mb', 16), 1024)
    .option('--threads <n>', 'kernel threads (0 = all cores; results never depend on it)', intOption('--threads', 0), 0)
    .option('--json', 'print the report as JSON on stdout')
    .action(
      action(async (flags: DriftFlags) => {
        const methods = list(flags.method) as DriftMethod[];
        for (const m of methods) if (!DRIFT_METHODS.includes(m)) throw new KilnError('E_USAGE', `--method: unknown method "${m}" (allowed: ${DRIFT_METHODS.join(', ')})`);
        if (flags.bins > 1000) throw new KilnError('E_USAGE', `--bins must be at most 1000, got ${flags.bins}`);
        const progress = createProgress({ live: wantsLiveProgress(Boolean(flags.json)) });
        let report: DriftReport;
        try {
          report = await detectFeatureDrift(flags.reference, flags.current, {
            method: methods,
            threshold: flags.threshold,
            alpha: flags.alpha,
            nBins: flags.bins,
            wasserstein: flags.wasserstein,
            features: list(flags.features),
            categorical: list(flags.categorical),
            prediction: flags.prediction,
            label: flags.label,
            numThreads: flags.threads,
            memoryBudgetBytes: flags.memoryBudgetMb * 2 ** 20,
            read: { delimiter: flags.delimiter, skip: flags.skip, nullStrings: flags.null },
            onProgress: (p) => progress.update({ stage: p.stage, done: p.done, total: p.total, unit: '' }),
          });
        } finally {
          await progress.stop();
        }
        if (flags.out) await writeFileAtomic(flags.out, JSON.stringify(report, null, 2) + '\n');
        if (flags.html) await writeFileAtomic(flags.html, renderDriftHtml(report));
        if (flags.json) printJson(report);
        else process.stdout.write(formatDriftSummary(report) + '\n');
        return flags.failOnDrift && report.drifted ? EXIT.GATE : EXIT.OK;
      }),
    );
  withExamples(
    cmd,
    'kiln drift --reference ../shared/datasets/adult/adult.data.csv --current ../shared/datasets/adult/adult.test.csv --null "?" --features age,hours-per-week,education --out drift.json --html drift.html',
    'kiln drift --reference train.parquet --current today.parquet --method ks,psi --prediction score --fail-on-drift',
  );
}
