// The container entry point for bench:scale's local EKS jobs: runs the CLI bundle as the image does, and on exit
// writes this process's peak RSS (`resourceUsage().maxRSS`, KiB) to $BENCH_JOB_RSS_DIR/<pid>, so the pod's peak
// memory is measured as the step processes' is.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_JOB_RSS_DIR;
if (dir)
  process.on('exit', () =>
    writeFileSync(join(dir, String(process.pid)), String(process.resourceUsage().maxRSS)),
  );
await import(new URL('../../dist/cli.mjs', import.meta.url).href);
