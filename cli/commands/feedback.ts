import type { Command } from 'commander';
import { mergeFeedback } from '../../src/index.js';
import { action, printJson, withExamples } from '../common.js';

interface MergeFlags {
  predictions: string;
  outcomes: string[];
  out: string;
  id: string;
  outcome: string;
  kind: string;
  features?: string;
  delimiter?: string;
  json?: boolean;
}

/** Registers `kiln feedback merge`: logged predictions + outcomes/overrides → a retraining dataset. */
export function registerFeedback(program: Command): void {
  const fb = program.command('feedback').description('The feedback loop: join logged predictions with real outcomes and human overrides');
  const merge = fb
    .command('merge')
    .description('Join a prediction log (kiln predict --log-dir) with outcome files into a retraining dataset, with provenance and a receipt')
    .requiredOption('--predictions <log>', 'prediction log folder (predictions-*.ndjson) or one log file')
    .requiredOption('--outcomes <files...>', 'CSV/Parquet/NDJSON files with the id, the outcome and optionally a kind column (outcome | override)')
    .requiredOption('--out <file>', 'retraining dataset: .parquet, .csv or .ndjson (written atomically, with <out>.provenance.json and <out>.receipt.json)')
    .option('--id <column>', 'id column of the outcome and feature files', 'id')
    .option('--outcome <column>', 'outcome column', 'outcome')
    .option('--kind <column>', "column saying 'outcome' or 'override' (absent: every row is an outcome)", 'kind')
    .option('--features <file>', 'feature rows joined on the id, so the dataset can be trained on directly')
    .option('--delimiter <char>', 'CSV separator of the outcome and feature files (default: detected)')
    .option('--json', 'machine-readable result on stdout')
    .action(
      action(async (flags: MergeFlags) => {
        const r = await mergeFeedback({
          predictions: flags.predictions,
          outcomes: flags.outcomes,
          out: flags.out,
          idColumn: flags.id,
          outcomeColumn: flags.outcome,
          kindColumn: flags.kind,
          ...(flags.features !== undefined ? { features: flags.features } : {}),
          ...(flags.delimiter !== undefined ? { read: { delimiter: flags.delimiter } } : {}),
        });
        if (flags.json) return printJson({ ok: true, ...r });
        const c = r.counts;
        process.stdout.write(
          [
            `feedback merge → ${r.out}: ${r.rows} labelled rows`,
            `  predictions   ${c.predictions} logged (${c.duplicatePredictions} repeated ids, latest kept)`,
            `  feedback      ${c.outcomes} outcomes, ${c.overrides} overrides${c.conflicts ? `, ${c.conflicts} ids with disagreeing rows (last wins)` : ''}`,
            `  matched       ${c.matched} (${c.matchedByOutcome} by outcome, ${c.matchedByOverride} by override only)`,
            `  unmatched     ${c.unmatchedPredictions} predictions without feedback, ${c.unmatchedOutcomes} feedback rows without a logged prediction`,
            ...(flags.features ? [`  features      ${c.missingFeatures} matched rows without a feature row`] : []),
            `  provenance    ${r.provenancePath}`,
            `  receipt       ${r.receiptPath}`,
          ].join('\n') + '\n',
        );
      }),
    );
  withExamples(
    merge,
    'kiln feedback merge --predictions .kiln/predictions --outcomes outcomes.csv --out retrain.parquet',
    'kiln feedback merge --predictions .kiln/predictions --outcomes outcomes.csv overrides.csv --features requests.csv --id request_id --out retrain.parquet --json',
  );
}
