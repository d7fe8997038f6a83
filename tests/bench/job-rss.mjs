// The container entry point for bench:scale's local EKS jobs: runs the CLI bundle as the image does, and on exit
// writes this process's peak RSS (VmHWM of /proc/self/status, KiB; not `resourceUsage().maxRSS`, which starts at
// the parent's RSS when it was forked) to $BENCH_JOB_RSS_DIR/<pid>, so the pod's peak memory is measured as the
// step processes' is.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_JOB_RSS_DIR;
if (dir)
  process.on('exit', () =>
    writeFileSync(
      join(dir, String(process.pid)),
      /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ??
        String(process.resourceUsage().maxRSS),
    ),
  );
await import(new URL('../../dist/cli.mjs', import.meta.url).href);
