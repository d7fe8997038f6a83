/**
 * One pipeline Lambda invocation in a process of its own, for `npm run bench:scale`: so each step's peak RSS is
 * its own (the local runtime runs every step in worker threads of one process). argv: the function name
 * (`textops-preprocess`…) and a file to write the outcome to; the event comes on stdin. The outcome is
 * `{ok, result | error, maxRssKb, ms}`; `maxRssKb` is the peak resident set of this process's own memory (its
 * worker threads included), `VmHWM` of /proc/self/status. Not `resourceUsage().maxRSS`: on Linux a child's
 * maxRSS starts at its parent's RSS when it was forked, so every step would read at least the bench's own size.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PIPELINE_LAMBDAS } from '../../shared/pipeline/steps/lambdas.ts';

/** VmHWM: the high-water mark of this process's resident set, in KiB (Linux). */
function peakRssKb(): number {
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS;
}

const [name, out] = process.argv.slice(2);
const fn = PIPELINE_LAMBDAS.find((f) => `textops-${f.name}` === name);
if (!fn || !out) throw new Error(`usage: step-child <textops-function> <outcome file>; got ${name}`);
const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
const t0 = performance.now();
const { handler } = (await import(new URL(`../../${fn.handler}`, import.meta.url).href)) as {
  handler: (event: unknown, context: unknown) => Promise<unknown>;
};
let outcome: Record<string, unknown>;
try {
  const result = await handler(event, { functionName: name, awsRequestId: `bench-${process.pid}` });
  outcome = { ok: true, result };
} catch (error) {
  const e = error as Error;
  outcome = { ok: false, error: { name: e.name, message: e.message } };
}
writeFileSync(out, JSON.stringify({ ...outcome, maxRssKb: peakRssKb(), ms: performance.now() - t0 }));
process.exit(0);
