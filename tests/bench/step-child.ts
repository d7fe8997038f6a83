/**
 * One pipeline Lambda invocation in a process of its own, for `npm run bench:scale`: so each step's peak RSS is
 * its own (the local runtime runs every step in worker threads of one process). argv: the function name
 * (`textops-preprocess`…) and a file to write the outcome to; the event comes on stdin. The outcome is
 * `{ok, result | error, maxRssKb, ms}`; `maxRssKb` is `process.resourceUsage().maxRSS`, the process's peak
 * resident set (its worker threads included) as the kernel counts it.
 */
import { writeFileSync } from 'node:fs';
import { PIPELINE_LAMBDAS } from '../../shared/pipeline/steps/lambdas.ts';

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
writeFileSync(
  out,
  JSON.stringify({ ...outcome, maxRssKb: process.resourceUsage().maxRSS, ms: performance.now() - t0 }),
);
process.exit(0);
