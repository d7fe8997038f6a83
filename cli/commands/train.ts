import { readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { codeVersion } from '../../shared/config/code-version.ts';
import { applyUploadOverrides, loadParams, readOverridesDocument } from '../../shared/config/params.ts';
import { saveModelDirectory } from '../../shared/ml/model-directory.ts';
import { refitText } from '../../shared/ml/refit.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { pinnedKeys } from '../../shared/ml/tune/plan.ts';
import type { SweepProgress } from '../../shared/ml/tune/progress.ts';
import { progressKey, progressText } from '../../shared/ml/tune/progress-text.ts';
import { tuneReport } from '../../shared/ml/tune/selection.ts';
import { labelIssuesCsv, labelIssuesCsvForPeople } from '../../shared/pipeline/formats/label-issues-csv.ts';
import { LiveLine } from '../live-line.ts';
import { formatMetrics, formatTuneReport } from '../output.ts';

/** Where `train` writes the sweep's table beside the model. */
export const TUNE_FILE = 'tune.json';
/** The label check's rows beside the model (`line,text,given_label,suggested_label,score`), and its summary. */
export const LABEL_ISSUES_FILE = 'label-issues.csv';
export const LABEL_ISSUES_SUMMARY_FILE = 'label-issues.json';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a model from a labelled CSV (or .csv.gz) in this process')
    .argument('<csv>', 'labelled CSV file')
    .option('--params <file>', 'params file (default: ./params.yaml, else the shipped one)')
    .option(
      '--overrides <file>',
      'YAML with only the keys to change (as an upload’s <name>.params.yaml), applied over the params',
    )
    .option('--out <dir>', 'where to write the model directory', 'models/latest')
    .option('--json', 'print the result as JSON')
    .option('--no-tune', 'train the params’ fixed recipe: no model-selection sweep (as tune.enabled: false)')
    .action(
      async (
        csv: string,
        options: { params?: string; overrides?: string; out: string; json?: boolean; tune: boolean },
      ) => {
        const base = options.params ? loadParams(options.params) : loadParams();
        // The overrides file's keys are pins: the sweep keeps them as given (params.yaml's keys are defaults).
        const overrides = options.overrides ? readOverridesDocument(options.overrides) : undefined;
        const params = options.overrides ? applyUploadOverrides(base, overrides, options.overrides) : base;
        const bytes = await readFile(csv);
        const live = new LiveLine(process.stdout);
        const log = options.json ? () => {} : (line: string) => live.say(line);
        // On a TTY the time left counts down between batches; a log gets a line per batch instead.
        let progress: SweepProgress | undefined;
        const show = () =>
          progress && live.status(`    sweep ${progressText(progress, Date.now())}`, progressKey(progress));
        const ticking = !options.json && process.stdout.isTTY ? setInterval(show, 1000) : undefined;
        log(`training on ${csv} (${(bytes.length / 1e6).toFixed(1)} MB) with ${params.train.classifier}`);
        const result = await trainInProcess(bytes, params, {
          codeVersion: codeVersion(),
          source: { key: basename(csv) },
          onStage: (s) => {
            if (s.stage === 'tune') {
              progress = undefined;
              live.clear();
            }
            log(`  ${s.stage.padEnd(10)} ${(s.ms / 1000).toFixed(2).padStart(7)} s  ${s.summary}`);
          },
          tune: {
            enabled: options.tune,
            pinned: pinnedKeys(overrides),
            onProgress: (p) => {
              progress = p;
              if (!options.json) show();
            },
          },
        }).finally(() => clearInterval(ticking));
        const saved = await saveModelDirectory(options.out, result.model);
        const tune = result.tune ? tuneReport(result.tune.plan, result.tune.outcome) : undefined;
        if (tune) await writeFile(join(options.out, TUNE_FILE), `${JSON.stringify(tune, null, 2)}\n`);
        if (result.labelIssues) {
          await writeFile(
            join(options.out, LABEL_ISSUES_FILE),
            labelIssuesCsvForPeople(labelIssuesCsv(result.labelIssues.rows)),
          );
          await writeFile(
            join(options.out, LABEL_ISSUES_SUMMARY_FILE),
            `${JSON.stringify(result.labelIssues.summary, null, 2)}\n`,
          );
        }
        // Peak memory of this process (worker threads included): what a Lambda or pod must be sized for.
        const peakRssMb = process.resourceUsage().maxRSS / 1024;
        if (options.json) {
          const summary = {
            out: resolve(options.out),
            sha256: saved.sha256,
            bytes: saved.bytes,
            peakRssMb,
            stages: result.stages,
            metrics: result.metrics,
            refit: result.refit,
            tune: tune ?? null,
            labelIssues: result.labelIssues?.summary ?? null,
          };
          process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          return;
        }
        if (tune) log(formatTuneReport(tune));
        log(formatMetrics(result.metrics));
        log(refitText(result.refit));
        log(
          `model ${result.model.params.model.name} written to ${resolve(options.out)} (${(saved.bytes / 1e6).toFixed(2)} MB, sha256 ${saved.sha256.slice(0, 12)}…); peak RSS ${peakRssMb.toFixed(0)} MB`,
        );
      },
    );
}
