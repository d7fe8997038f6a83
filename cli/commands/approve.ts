import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { SfnTaskCallbacks } from '../../shared/aws/sfn-callbacks.ts';
import { answerApproval } from '../../shared/pipeline/run/approval.ts';
import { printable } from '../../shared/printable.ts';
import { followRun } from '../pipeline-follow.ts';
import { pipelineFor, resolveTarget, TARGET_HELP } from '../pipeline-target.ts';

interface AnswerOptions {
  reason?: string;
  follow: boolean;
  timeout: string;
  json?: boolean;
  bucket?: string;
  runtimeDir?: string;
}

/** Who answers, as the registry records it: the operating-system user of the CLI. */
function operator(): string {
  try {
    return `${userInfo().username} (textops CLI)`;
  } catch {
    return 'textops CLI';
  }
}

/**
 * `textops approve <runId>` and `textops reject <runId> --reason …`: answer a run waiting in AwaitApproval
 * (params release.approval: manual) with SendTaskSuccess / SendTaskFailure, then follow it to its end.
 */
export function registerApprove(program: Command): void {
  for (const decision of ['approved', 'rejected'] as const) {
    const verb = decision === 'approved' ? 'approve' : 'reject';
    program
      .command(verb)
      .description(
        decision === 'approved'
          ? 'approve the version a run waits with (release.approval: manual): production moves to it'
          : 'reject the version a run waits with (release.approval: manual): it is not promoted',
      )
      .argument('<runId>', 'the waiting run (as listed by textops runs)')
      .option(
        '--reason <text>',
        decision === 'approved'
          ? 'why, recorded with the version (optional)'
          : 'why, recorded with the version (required)',
      )
      .option('--no-follow', 'return once answered, without following the run to its end')
      .option('--timeout <seconds>', 'stop following after this long (the run goes on)', '600')
      .option('--json', 'print the final run status as JSON')
      .option('--bucket <bucket>', TARGET_HELP.bucket)
      .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
      .action(async (runId: string, options: AnswerOptions) => {
        const target = await resolveTarget(options);
        const { client } = pipelineFor(target);
        let answered: Awaited<ReturnType<typeof answerApproval>>;
        try {
          answered = await answerApproval(target.store, new SfnTaskCallbacks(client), {
            runId,
            decision,
            by: operator(),
            reason: options.reason,
          });
        } finally {
          client.destroy();
        }
        if (!options.json) process.stdout.write(`${printable(answered.message)}\n`);
        if (options.follow)
          await followRun(target, runId, {
            timeoutSeconds: Number(options.timeout),
            json: options.json,
            pastApproval: true,
          });
      });
  }
}
