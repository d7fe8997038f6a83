import { RedriveExecutionCommand } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { parse } from 'csv-parse/sync';
import { loadParams } from '../../shared/config/params.ts';
import { compare, MAX_COMPARED } from '../../shared/console/console-data.ts';
import { ConfigError, NotFoundError, RunNotRetryableError } from '../../shared/errors.ts';
import { BATCH_PREFIX } from '../../shared/layout.ts';
import { type LabelIssueSummary, labelIssuesLine } from '../../shared/ml/label-issues.ts';
import { labelIssuesCsvForPeople } from '../../shared/pipeline/formats/label-issues-csv.ts';
import { readLabelIssues } from '../../shared/pipeline/run/checks.ts';
import { formatUsd } from '../../shared/pipeline/run/cost.ts';
import { isBatchKey } from '../../shared/pipeline/run/keys.ts';
import { listRuns, listRunTable, readRun } from '../../shared/pipeline/run/queries.ts';
import { markRedriven, retryRefusal } from '../../shared/pipeline/run/retry.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { batchJobOutcome, firstBatchJobHint, listBatchJobs } from '../../shared/pipeline/steps/batch-jobs.ts';
import { printable, printableDeep, printableJson } from '../../shared/printable.ts';
import { followRun } from '../pipeline-follow.ts';
import { formatRun, resultCell, table } from '../pipeline-output.ts';
import {
  MODEL_HELP,
  modelFor,
  type PipelineTarget,
  pipelineFor,
  resolveTarget,
  TARGET_HELP,
} from '../pipeline-target.ts';

export function registerRuns(program: Command): void {
  const runs = program.command('runs');
  runs
    .command('retry')
    .description('resume a failed or aborted run from the step that failed (a Step Functions redrive)')
    .argument('<runId>', 'the run to resume (as listed by textops runs)')
    .option('--no-follow', 'return once the run is resumed, without following it')
    .option('--timeout <seconds>', 'stop following after this long (the run goes on)', '3600')
    .option('--json', 'print the final run status as JSON')
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .action(async (runId: string, _options: unknown, command: Command) => {
      // `runs` has --bucket/--runtime-dir/--json of its own, which commander gives to `runs` wherever they appear.
      const options = command.optsWithGlobals<{
        follow: boolean;
        timeout: string;
        json?: boolean;
        bucket?: string;
        runtimeDir?: string;
      }>();
      const target = await resolveTarget(options);
      const status = await readStatus(target.store, runId);
      if (!status) throw new NotFoundError(`no run ${printable(runId)} in ${target.where}`);
      const refusal = retryRefusal(status);
      if (refusal) throw new RunNotRetryableError(`run ${printable(runId)} is not retried: ${refusal}`);
      const { client, stateMachineArn } = pipelineFor(target);
      const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;
      const from = status.error?.step;
      // The status says `running` before the execution resumes, so its first step's writes come after this one.
      const { status: marked, undo } = await markRedriven(target.store, status);
      try {
        await client.send(new RedriveExecutionCommand({ executionArn }));
      } catch (error) {
        await undo();
        const { name, message } = error as Error;
        throw new RunNotRetryableError(
          `run ${printable(runId)} could not be redriven: ${name}: ${printable(message)}`,
        );
      } finally {
        client.destroy();
      }
      if (!options.json)
        process.stdout.write(
          `run ${printable(runId)} resumed${from ? ` from ${from}` : ''} (attempt ${marked.attempts})\n`,
        );
      if (options.follow)
        await followRun(target, runId, { timeoutSeconds: Number(options.timeout), json: options.json });
    });
  runs
    .description('list training runs, or show one run state by state')
    .argument('[runId]', 'a run id (as printed by upload)')
    .option(
      '--compare <ids...>',
      `2 to ${MAX_COMPARED} run ids or versions (v3) side by side: params that differ, metrics`,
    )
    .option('--all', 'with --compare: every param, not only those that differ')
    .option('--batch', 'list batch prediction jobs (files under batch/) instead of training runs')
    .option(
      '--label-issues',
      'with a run id: its suspected label errors as CSV (line,text,given_label,suggested_label,score), most suspect first; the summary goes to stderr',
    )
    .option('--model <name>', `with --compare, the model of the versions: ${MODEL_HELP}`)
    .option('--json', "print JSON (the list: every run's whole status, each read from its folder)")
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .action(
      async (
        runId: string | undefined,
        options: {
          json?: boolean;
          bucket?: string;
          runtimeDir?: string;
          compare?: string[];
          all?: boolean;
          model?: string;
          batch?: boolean;
          labelIssues?: boolean;
        },
      ) => {
        const target = await resolveTarget(options);
        if (options.batch) {
          if (runId || options.compare)
            throw new ConfigError('--batch lists every batch job: give it no run id and no --compare');
          await listBatch(target, options.json === true);
          return;
        }
        if (options.compare) {
          const ids = [...new Set([...(runId ? [runId] : []), ...options.compare])];
          if (ids.length < 2 || ids.length > MAX_COMPARED)
            throw new ConfigError(
              `--compare takes 2 to ${MAX_COMPARED} run ids or versions (v<n>), got ${ids.length}`,
            );
          const params = loadParams();
          // Versions (v3) are of one model: --model, or the one the stack or the bucket has.
          const model = ids.some((id) => /^v\d+$/.test(id))
            ? await modelFor(target, options.model)
            : undefined;
          const result = await compare(
            { store: target.store, modelName: model ?? null, defaults: params },
            ids,
            model,
          );
          process.stdout.write(
            `${options.json ? printableJson(result) : formatComparison(printableDeep(result), options.all === true)}\n`,
          );
          return;
        }
        if (options.labelIssues) {
          if (!runId) throw new ConfigError('--label-issues shows one run: give its run id');
          const found = await readLabelIssues(target.store, runId);
          if (!found)
            throw new NotFoundError(
              `run ${printable(runId)} has no label check in ${target.where} (not trained yet, failed before Train, or data.label_issues: off)`,
            );
          if (options.json) {
            const rows = parse(found.csv, { columns: true }) as Record<string, string>[];
            process.stdout.write(`${printableJson({ summary: found.summary, rows })}\n`);
            return;
          }
          // The CSV is the user's own text (quoted by csv-stringify, a cell a spreadsheet would run as a formula prefixed
          // with '); the summary is ours.
          process.stderr.write(`${printable(labelIssuesText(found.summary))}\n`);
          process.stdout.write(labelIssuesCsvForPeople(found.csv));
          return;
        }
        if (runId) {
          // Store contents are anyone's uploads: control characters are escaped before they reach the terminal.
          const run = await readRun(target.store, runId);
          if (!run.status && !run.history)
            throw new NotFoundError(`no run ${printable(runId)} in ${target.where}`);
          process.stdout.write(
            `${
              options.json
                ? printableJson(run)
                : formatRun(
                    printableDeep(run.status),
                    printableDeep(run.history),
                    printableDeep(run.tune),
                    printableDeep(run.params),
                  )
            }\n`,
          );
          return;
        }
        if (options.json) {
          process.stdout.write(`${printableJson(await listRuns(target.store))}\n`);
          return;
        }
        // The table from the runs index (one read, and the status of each run still going), not every run's files.
        const [all, batchFiles] = await Promise.all([
          listRunTable(target.store),
          target.store.list(BATCH_PREFIX).then((objects) => objects.filter((o) => isBatchKey(o.key)).length),
        ]);
        const runs = printableDeep(all);
        // Batch jobs are not training runs, but they live in the same bucket: said, so they are not missed.
        const batchLine = batchFiles
          ? `${batchFiles} batch job(s) under ${BATCH_PREFIX}: textops runs --batch\n`
          : '';
        if (runs.length === 0) {
          process.stdout.write(
            `no runs yet in ${target.where}: upload data with 'textops upload <csv>'\n${batchLine}`,
          );
          return;
        }
        const rows = runs.map((r) => [
          r.runId,
          r.state,
          r.source.key,
          r.startedAt.replace('T', ' ').slice(0, 19),
          r.route?.train ?? '',
          r.cost ? formatUsd(r.cost.usd) : '',
          resultCell(r),
        ]);
        process.stdout.write(
          `${table(['RUN', 'STATE', 'SOURCE', 'STARTED (UTC)', 'TRAIN', 'COST', 'RESULT'], rows)}\n${batchLine}`,
        );
      },
    );
}

/** The label check's summary for a terminal: the line, the pairs, the notes. */
function labelIssuesText(s: LabelIssueSummary): string {
  const pairs = s.pairs.map((p) => `  ${p.given} → ${p.suggested}: ${p.rows}`).join('\n');
  return [labelIssuesLine(s), pairs, ...s.notes.map((n) => `note: ${n}`), `method: ${s.method}`]
    .filter(Boolean)
    .join('\n');
}

/** `textops runs --batch`: every file under batch/, its job's state and what it wrote. */
async function listBatch(target: PipelineTarget, json: boolean): Promise<void> {
  const jobs = await listBatchJobs(target.store);
  if (json) {
    process.stdout.write(`${printableJson(jobs)}\n`);
    return;
  }
  if (jobs.length === 0) {
    process.stdout.write(`no batch jobs yet in ${target.where}: ${firstBatchJobHint(target.bucket)}\n`);
    return;
  }
  // File names, labels and error messages are anyone's uploads: escaped before they reach the terminal.
  const rows = printableDeep(jobs).map((job) => [
    job.key,
    job.state,
    job.report?.rows === undefined ? '' : String(job.report.rows),
    job.report?.malformed === undefined ? '' : String(job.report.malformed),
    job.report?.model ? `v${job.report.model.version}` : '',
    (job.report?.finishedAt ?? '').replace('T', ' ').slice(0, 19),
    batchJobOutcome(job),
  ]);
  process.stdout.write(
    `${table(['FILE', 'STATE', 'ROWS', 'MALFORMED', 'MODEL', 'FINISHED (UTC)', 'RESULT'], rows)}\n`,
  );
}

/** The compare view in a terminal: the items, the params (only those that differ unless `all`), the metrics. */
function formatComparison(c: Awaited<ReturnType<typeof compare>>, all: boolean): string {
  const names = c.items.map((i) => (i.kind === 'version' ? `v${i.version}` : i.id));
  const value = (v: unknown) => (v === null || v === undefined ? '—' : String(v));
  const items = c.items.map((i, n) => [
    names[n],
    i.kind === 'version'
      ? `version (run ${i.runId ?? '—'})`
      : `run${i.version !== null ? `, v${i.version}` : ''}`,
    i.state ?? '—',
    i.source ?? '—',
  ]);
  const shown = all ? c.params : c.params.filter((p) => p.differs);
  const hidden = c.params.length - shown.length;
  const mark = (differs: boolean) => (differs ? '*' : ' ');
  return [
    table(['ITEM', 'KIND', 'STATE', 'SOURCE'], items),
    ...(c.labelWarning ? ['', `warning: ${c.labelWarning}`] : []),
    '',
    `params${all ? ' (* differs)' : `: ${shown.length} differ${hidden ? ` (${hidden} identical hidden; --all shows them)` : ''}`}`,
    shown.length
      ? table(
          ['', 'KEY', ...names],
          shown.map((p) => [mark(p.differs), p.key, ...p.values.map(value)]),
        )
      : '  (none differ)',
    '',
    `metrics, ${c.testSplit.note}`,
    table(
      ['', 'METRIC', ...names],
      c.metrics.map((m) => [
        mark(m.differs),
        m.key,
        ...m.values.map((v) => (v === null ? '—' : v.toFixed(4))),
      ]),
    ),
  ].join('\n');
}
