import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalRuntime, startLocalRuntime } from '../local/local-runtime.ts';
import { loadParams } from '../shared/config/params.ts';
import { uploadRunId } from '../shared/pipeline/run/queries.ts';
import { sampleCsv, sharedRows, toCsv } from './sample-data.ts';

const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 1\ntune:\n  enabled: false\n';
/** The second run differs from the first in its features and C (what the compare view must show). */
const TRIGRAMS =
  'features:\n  ngram_range: [1, 3]\ntrain:\n  logistic_regression:\n    max_iter: 60\n    C: 3\n  workers: 1\ntune:\n  enabled: false\n';

/** File names, labels and an error message that carry HTML: every page must show them as text. */
export const XSS = {
  failedName: '<img src=x onerror=alert(1)>',
  failedLabel: '<script>alert(2)</script>',
  labelsName: '"><svg onload=alert(3)>',
  positive: '<b>pos</b>',
  negative: '<i onmouseover=alert(4)>neg</i>',
};

export interface ConsoleStack {
  runtime: LocalRuntime;
  /** The runtime directory (its runtime.json is what `textops --runtime-dir` reads). */
  dir: string;
  runs: { first: string; second: string; failed: string; xss: string };
  close(): Promise<void>;
}

/**
 * The local stack with four real runs: two IMDB runs of the `sentiment` model (v1 promoted; v2 with other
 * features and C), a run that fails on its data, and one whose file name and labels are HTML (v3, another set
 * of classes, so not compared with production). The console and the inference API listen on loopback.
 */
export async function startConsoleStack(): Promise<ConsoleStack> {
  process.env.TEXTOPS_LOG = 'silent';
  const dir = await mkdtemp(join(tmpdir(), 'textops-console-'));
  const base = loadParams();
  const runtime = await startLocalRuntime({
    dir,
    inferencePort: 0,
    params: { ...base, serving: { ...base.serving, reload_interval_seconds: 0.3 } },
    retryIntervalMs: 10,
    queueRetryDelayMs: 20,
  });
  const upload = async (name: string, csv: string, overrides: string) => {
    await runtime.store.put(`incoming/${name}.params.yaml`, overrides);
    await runtime.store.put(`incoming/${name}.csv`, csv);
    const runId = (await uploadRunId(runtime.store, runtime.bucket, `incoming/${name}.csv`)) as string;
    await runtime.idle();
    return runId;
  };
  try {
    const first = await upload('reviews', sampleCsv('imdb-train.csv.gz', 900), FAST);
    const second = await upload('reviews-trigrams', sampleCsv('imdb-train.csv.gz', 900, 900), TRIGRAMS);
    const failed = await upload(
      XSS.failedName,
      toCsv([
        ['review', 'sentiment'],
        ...Array.from({ length: 40 }, (_, i) => [`review ${i} was fine enough to watch`, XSS.failedLabel]),
      ]),
      FAST,
    );
    const rows = sharedRows('imdb-train.csv.gz').slice(2000, 2400);
    const xss = await upload(
      XSS.labelsName,
      toCsv([
        ['review', 'sentiment'],
        ...rows.map((r) => [r[0], r[1] === 'positive' ? XSS.positive : XSS.negative]),
      ]),
      FAST,
    );
    return {
      runtime,
      dir,
      runs: { first, second, failed, xss },
      close: async () => {
        await runtime.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await runtime.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
