import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CORPORA, type CorpusName, type CorpusSplit, downloadCorpus } from '../../shared/data/corpora.ts';

export function registerData(program: Command): void {
  const data = program.command('data').description('public labelled corpora to train on');
  data
    .command('download')
    .description(
      `fetch a corpus from its public source and write it as a training CSV:\n${Object.entries(CORPORA)
        .map(([name, c]) => `  ${name.padEnd(7)} ${c.title}`)
        .join('\n')}`,
    )
    .addArgument(data.createArgument('<corpus>', 'corpus name').choices(Object.keys(CORPORA)))
    .addOption(new Option('--split <split>', 'which split').choices(['train', 'test']).default('train'))
    .option('--out <file>', 'CSV to write (.gz compresses it)', 'data/<corpus>-<split>.csv.gz')
    .option(
      '--url <url>',
      "the source file's address (a mirror), or the path of a copy of it on this machine (default: the corpus's public source)",
    )
    .option('--sha256 <hex>', 'refuse the source unless it has this sha256')
    .option('--seed <n>', 'seed of the row shuffle', parseSeed, 42)
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        corpus: CorpusName,
        options: {
          split: CorpusSplit;
          out: string;
          url?: string;
          sha256?: string;
          seed: number;
          json?: boolean;
        },
      ) => {
        const out = options.out.replace('<corpus>', corpus).replace('<split>', options.split);
        const showProgress = !options.json && process.stderr.isTTY;
        let shown = -1;
        const summary = await downloadCorpus({
          corpus,
          split: options.split,
          out,
          url: options.url,
          sha256: options.sha256,
          seed: options.seed,
          onProgress: (received, total) => {
            if (!showProgress) return;
            const mb = Math.floor(received / 5e6);
            if (mb === shown) return;
            shown = mb;
            const of = total ? ` of ${(total / 1e6).toFixed(1)}` : '';
            process.stderr.write(`\r  downloaded ${(received / 1e6).toFixed(1)}${of} MB`);
          },
        });
        if (showProgress) process.stderr.write('\n');
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ ...summary, out: resolve(summary.out) }, null, 2)}\n`);
          return;
        }
        const classes = Object.entries(summary.classCounts)
          .map(([label, n]) => `${label} ${n.toLocaleString('en-US')}`)
          .join(', ');
        process.stdout.write(
          `${summary.url}: ${(summary.sourceBytes / 1e6).toFixed(1)} MB, sha256 ${summary.sourceSha256}\n` +
            `wrote ${resolve(summary.out)}: ${summary.rows.toLocaleString('en-US')} rows (${classes}), ` +
            `columns ${summary.columns.join(', ')}\n` +
            `train on it: npx textops train ${summary.out}\n`,
        );
      },
    );
}

function parseSeed(value: string): number {
  const seed = Number(value);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new InvalidArgumentError('a non-negative integer');
  return seed;
}
