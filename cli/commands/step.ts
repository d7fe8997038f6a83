import type { Command } from 'commander';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { readRuntimeSettings } from '../../shared/config/runtime.ts';
import { ConfigError } from '../../shared/errors.ts';
import {
  isStandaloneStep,
  runStandaloneStep,
  STANDALONE_STEPS,
} from '../../shared/pipeline/steps/standalone.ts';
import { printable } from '../../shared/printable.ts';

/**
 * `textops step <name> --run <runId>`: one pipeline step of a run, against the run's bucket, with the code the
 * step's Lambda handler runs. This is the EKS job's command (the same image as `serve` and `worker`), for a step
 * too big for one Lambda; the local engine runs it as a child process for the same route.
 */
export function registerStep(program: Command): void {
  program
    .command('step')
    .description(
      `run one pipeline step of a run against its bucket (${STANDALONE_STEPS.join(', ')}): the EKS job's command`,
    )
    .argument('<name>', `the step: ${STANDALONE_STEPS.join(' | ')}`)
    .requiredOption('--run <runId>', 'the run (its files under runs/<runId>/)')
    .option('--bucket <bucket>', 'the data bucket (default: TEXTOPS_BUCKET)')
    .action(async (name: string, options: { run: string; bucket?: string }) => {
      if (!isStandaloneStep(name))
        throw new ConfigError(
          `'${printable(name)}' is not a step that runs on its own; one of ${STANDALONE_STEPS.join(', ')}`,
        );
      const bucket = options.bucket ?? readRuntimeSettings().bucket;
      if (!bucket) throw new ConfigError('no bucket: pass --bucket or set TEXTOPS_BUCKET');
      const payload = await runStandaloneStep(stepDeps(bucket), name, bucket, options.run);
      // The step's output payload, as its Lambda would return it: the last line of the job's log.
      process.stdout.write(`${JSON.stringify(payload)}\n`);
    });
}
