// `npm run tour`: the newcomer tour (scripts/tour/tour.ts) with its table of pages, checks and results; exits 1
// listing every problem found.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TourRow } from './session.ts';
import { ROOT } from './stack.ts';
import { runTour } from './tour.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(ROOT, 'docs', 'screenshots') },
    'no-screenshots': { type: 'boolean', default: false },
    data: { type: 'string', default: 'auto' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`npm run tour -- [--out <dir>] [--no-screenshots] [--data auto|generated] [--quiet]

Starts a local stack of its own (temporary directory, free ports on 127.0.0.1), uploads labelled news and
follows each run, then opens every console page and the inference web page in Chromium (predict with
explanations, compare two runs, promote and roll back through the buttons). Fails on any console error, any
link, image, script or stylesheet that does not answer 2xx, and any text that overflows its box.
  --out <dir>         full-page screenshots (default docs/screenshots)
  --no-screenshots    take none
  --data generated    generated headlines even when ../shared/data/agnews-7600.csv.gz is there
  --quiet             only the table and the problems
`);
  process.exit(0);
}
if (values.data !== 'auto' && values.data !== 'generated') {
  process.stderr.write(`--data must be auto or generated, not '${values.data}'\n`);
  process.exit(2);
}

const log = values.quiet ? () => {} : (line: string) => process.stdout.write(`${line}\n`);
const report = await runTour({
  screenshots: values['no-screenshots'] ? null : values.out,
  data: values.data,
  log,
}).catch((error: Error) => {
  process.stderr.write(`the tour stopped: ${error.stack ?? error.message}\n`);
  process.exit(1);
});

function table(rows: TourRow[]): string {
  const head = { page: 'page', checks: 'checks', result: 'result' };
  const width = (k: keyof typeof head) => Math.max(head[k].length, ...rows.map((r) => r[k].length));
  const line = (r: typeof head) =>
    `${r.page.padEnd(width('page'))}  ${r.checks.padEnd(width('checks'))}  ${r.result}`.trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

const out = (text: string) => process.stdout.write(`${text}\n`);
out(
  `\nnewcomer tour: ${report.data}; ${report.seconds.toFixed(0)} s; ${report.rows.filter((r) => !r.ok).length} of ${report.rows.length} rows failed`,
);
out(table(report.rows));
if (report.screenshots.length) out(`screenshots: ${report.screenshots.join(', ')}`);
if (report.externalLinks.length) out(`not checked (not on this machine): ${report.externalLinks.join(', ')}`);
if (report.problems.length) {
  out(`\n${report.problems.length} problem(s):`);
  for (const p of report.problems) out(`  ${p.check.padEnd(8)} ${p.page}: ${p.message}`);
  process.exitCode = 1;
} else out('\nno problems');
