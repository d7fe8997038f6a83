// One Lambda cold start for `bench:serve`, in a fresh node process as the Lambda runtime would do it: import the
// deployed predict bundle (the init phase) and hand it one API Gateway v2 event. Prints one JSON line: the
// times since this process started (performance.now() counts from process start, so Node's own start is in),
// the status and the body. Usage: node lambda-invoke.mjs <bundle.mjs> <event.json>
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [bundle, eventFile] = process.argv.slice(2);
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const context = {
  awsRequestId: 'bench-cold-start',
  functionName: 'textops-bench-predict',
  getRemainingTimeInMillis: () => 10_000,
};
const started = performance.now();
const { handler } = await import(pathToFileURL(bundle).href);
const initialized = performance.now();
const result = await handler(event, context);
const answered = performance.now();
process.stdout.write(
  `${JSON.stringify({
    nodeStartMs: started,
    initMs: initialized,
    firstResponseMs: answered,
    statusCode: result.statusCode,
    body: result.isBase64Encoded ? Buffer.from(result.body, 'base64').toString('utf8') : result.body,
  })}\n`,
);
