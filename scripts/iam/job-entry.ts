// The EKS route's job under check:iam: the container's entry point (the CLI, `textops step …`) run from source
// with its AWS calls recorded as the job's principal (the PipelineJobIrsaRole) and appended to the file the
// scenario names, since the job is a child process of its own.
import { appendFileSync } from 'node:fs';
import { buildProgram } from '../../cli/program.ts';
import { asPrincipal, type RecordedCall, recordSdkCalls } from './record.ts';

const calls: RecordedCall[] = [];
const stop = recordSdkCalls(calls);
try {
  await asPrincipal('job:pipeline', async () => (await buildProgram()).parseAsync(process.argv));
} finally {
  stop();
  const file = process.env.TEXTOPS_IAM_JOB_CALLS;
  if (file) appendFileSync(file, calls.map((c) => `${JSON.stringify(c)}\n`).join(''));
}
