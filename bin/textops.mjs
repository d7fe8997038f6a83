#!/usr/bin/env node
// The textops command: runs the esbuild bundle (npm install builds it through the "prepare" script).
await import('../dist/cli.mjs');
