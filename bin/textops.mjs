#!/usr/bin/env node
// The textops command: runs the esbuild bundle (npm install builds it through the "prepare" script).
// `serve` has a bundle of its own that loads only what serving needs (a shorter cold start for the container).
await import(process.argv[2] === 'serve' ? '../dist/serve/serve.mjs' : '../dist/cli.mjs');
