#!/usr/bin/env node
// The textops command: runs the esbuild bundle (npm install builds it through the "prepare" script).
// `serve` has a bundle of its own that loads only what serving needs (a shorter cold start for the container).
// textops supports Node 20; the AWS SDK's eight-line reminder that its 2027 releases need Node 22 would otherwise
// open the output of every command and every worker (README, Quickstart). An explicit setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import(process.argv[2] === 'serve' ? '../dist/serve/serve.mjs' : '../dist/cli.mjs');
