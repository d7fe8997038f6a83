import type { Command } from 'commander';
import { NotFoundError } from '../../shared/errors.ts';
import { listRuns, readRun } from '../../shared/pipeline/run-queries.ts';
import { printable, printableDeep } from '../../shared/printable.ts';
import { formatRun, table } from '../pipeline-output.ts';
import { resolveTarget, TARGET_HELP } from '../pipeline-target.ts';

export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('list training runs, or show one run state by state')
    .argument('[runId]', 'a run id (as printed by upload)')
    .option('--json', 'print JSON')
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .action(
      async (
        runId: string | undefined,
        options: { json?: boolean; bucket?: string; runtimeDir?: string },
      ) => {
        const target = await resolveTarget(options);
        if (runId) {
          // Store contents are anyone's uploads: control characters are escaped before they reach the terminal.
          const run = printableDeep(await readRun(target.store, runId));
          if (!run.status && !run.history)
            throw new NotFoundError(`no run ${printable(runId)} in ${target.where}`);
          process.stdout.write(
            `${options.json ? printable(JSON.stringify(run, null, 2)) : formatRun(run.status, run.history)}\n`,
          );
          return;
        }
        const runs = printableDeep(await listRuns(target.store));
        if (options.json) {
          process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
          return;
        }
        if (runs.length === 0) {
          process.stdout.write(`no runs yet in ${target.where}: upload data with 'textops upload <csv>'\n`);
          return;
        }
        const rows = runs.map((r) => [
          r.runId,
          r.state,
          r.source.key,
          r.startedAt.replace('T', ' ').slice(0, 19),
          r.error
            ? `${r.error.name}: ${r.error.message}`
            : r.model
              ? `${r.model.name} v${r.model.version}${r.model.promoted ? ' (production)' : ''}`
              : (r.message ?? ''),
        ]);
        process.stdout.write(`${table(['RUN', 'STATE', 'SOURCE', 'STARTED (UTC)', 'RESULT'], rows)}\n`);
      },
    );
}
