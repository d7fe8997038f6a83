import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { InvalidDatasetError } from '../../shared/errors.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import type { ShardManifest } from '../../shared/pipeline/run/shards.ts';
import { ingestStep } from '../../shared/pipeline/steps/ingest.ts';
import { sampleCsv } from '../helpers/data.ts';
import { runStages, stepFixture } from '../helpers/pipeline-run.ts';

// The sharded steps against the unsharded path, on the in-memory store: the same rows in the same order reach
// the same vectorizer, matrix, model and metrics whatever the shard size (the Map items run one after another
// here; tests/integration/pipeline-shards.test.ts runs them on the real engine).

const base = applyOverrides(loadParams(), {
  tune: { enabled: false },
  train: { workers: 1, logistic_regression: { max_iter: 100 } },
});
const CSV = sampleCsv('imdb-train.csv.gz', 700);

async function pipelineRun(shardRows: number) {
  const f = stepFixture(applyOverrides(base, { data: { shard_rows: shardRows } }));
  const start = await f.upload(CSV);
  const out = await runStages(f.deps, start, 'refit');
  const model = TextModel.fromArtifact((await f.store.get(runKeys(start.runId).model))!.body);
  const refit = TextModel.fromArtifact((await f.store.get(runKeys(start.runId).refitModel))!.body);
  const metrics = f.store.json<{ metrics: unknown }>(runKeys(start.runId).metrics)!.metrics;
  const manifest = f.store.json<ShardManifest>(runKeys(start.runId).shards)!;
  const examples = f.store.json<unknown>(runKeys(start.runId).examples);
  return { f, start, out, model, refit, metrics, manifest, examples };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};

describe('sharded pipeline steps', () => {
  it('train one model whatever the shard size, the same as the unsharded in-process path (within 1e-6)', async () => {
    const one = await pipelineRun(20000);
    const five = await pipelineRun(130);
    expect(one.manifest.shards).toHaveLength(1);
    expect(five.manifest.shards.map((s) => s.rows)).toEqual(
      [130, 130, 130, 130, 130, 50].slice(0, five.manifest.shards.length),
    );
    expect(five.manifest.shards.length).toBeGreaterThanOrEqual(5);
    // The split is the whole-file split: the same rows on each side, whatever the shard size.
    expect(five.out.ingest).toEqual(one.out.ingest);
    const rows = (one.out.ingest?.train ?? 0) + (one.out.ingest?.test ?? 0);

    const inProcess = await trainInProcess(Buffer.from(CSV), base, { codeVersion: 'test-version' });
    const reference = TextModel.fromArtifact(inProcess.evaluated.toArtifact());
    // The served model: the same recipe refitted on every kept row, in file order, on either path.
    expect(inProcess.refit).toMatchObject({ status: 'refitted', rows, evaluatedRows: one.out.ingest?.train });
    const served = TextModel.fromArtifact(inProcess.model.toArtifact());
    expect(served.lineage.refit?.rows).toBe(rows);
    expect(served.metrics).toEqual(inProcess.evaluated.metrics);
    expect(served.vectorizer.state.vocabulary.length).toBeGreaterThan(
      reference.vectorizer.state.vocabulary.length,
    );
    for (const run of [one, five]) {
      expect(run.out.refit).toEqual({ status: 'refitted', rows });
      expect(run.refit.lineage.refit).toMatchObject({ rows, evaluatedRows: run.out.ingest?.train });
      expect(run.refit.vectorizer.state.vocabulary).toEqual(served.vectorizer.state.vocabulary);
      expect(maxDiff(run.refit.classifier.coef, served.classifier.coef)).toBeLessThanOrEqual(1e-6);
      expect(maxDiff(run.refit.classifier.intercept, served.classifier.intercept)).toBeLessThanOrEqual(1e-6);
      expect(run.model.vectorizer.state.vocabulary).toEqual(reference.vectorizer.state.vocabulary);
      expect(maxDiff(run.model.vectorizer.state.idf, reference.vectorizer.state.idf)).toBeLessThanOrEqual(
        1e-6,
      );
      expect(maxDiff(run.model.classifier.coef, reference.classifier.coef)).toBeLessThanOrEqual(1e-6);
      expect(maxDiff(run.model.classifier.intercept, reference.classifier.intercept)).toBeLessThanOrEqual(
        1e-6,
      );
    }
    // Evaluate's merge of per-shard scores gives exactly the metrics of the whole test split at once.
    expect(five.metrics).toEqual(one.metrics);
    expect(one.metrics).toEqual(JSON.parse(JSON.stringify(inProcess.metrics)));
    // So are the examples stored with the model: each shard's picks hold the split's picks.
    expect(five.examples).toEqual(one.examples);
    expect(one.examples).toEqual(inProcess.evaluated.examples);
    expect(inProcess.model.examples).toEqual(inProcess.evaluated.examples);
    expect(inProcess.model.examples).toHaveLength(4);

    const steps = (five.f.store.json<RunStatus>(runKeys(five.start.runId).status)?.steps ?? []).map((s) =>
      s.part ? `${s.name} ${s.part}` : s.name,
    );
    expect(steps).toContain('preprocess shard 4');
    expect(steps).toContain('featurize count shard 4');
    expect(steps).toContain('featurize merge partition 4');
    expect(steps).toContain('featurize vocabulary');
    expect(steps).toContain('featurize transform shard 4');
    expect(steps).toContain('evaluate shard 4');
  });

  it('leaves the rows the label check dropped out of the refit, the same rows on both paths', async () => {
    const drop = applyOverrides(base, { data: { label_issues: 'drop' } });
    const f = stepFixture(applyOverrides(drop, { data: { shard_rows: 130 } }));
    const start = await f.upload(CSV);
    const out = await runStages(f.deps, start, 'refit');
    const refit = TextModel.fromArtifact((await f.store.get(runKeys(start.runId).refitModel))!.body);
    const inProcess = await trainInProcess(Buffer.from(CSV), drop, { codeVersion: 'test-version' });
    const dropped = inProcess.labelIssues?.summary.dropped ?? 0;
    expect(dropped).toBeGreaterThan(0);
    const train = out.ingest?.train ?? 0;
    const rows = train + (out.ingest?.test ?? 0);
    expect(inProcess.refit).toMatchObject({
      status: 'refitted',
      rows: rows - dropped,
      evaluatedRows: train - dropped,
    });
    expect(out.refit).toEqual({ status: 'refitted', rows: rows - dropped });
    expect(refit.lineage.refit).toMatchObject({ rows: rows - dropped, evaluatedRows: train - dropped });
    expect(refit.vectorizer.state.vocabulary).toEqual(inProcess.model.vectorizer.state.vocabulary);
    expect(maxDiff(refit.classifier.coef, inProcess.model.classifier.coef)).toBeLessThanOrEqual(1e-6);
  });

  it('names the source line and the shard of a malformed row, and writes no shard list', async () => {
    const lines = CSV.split('\n');
    // Row 437 of the data (shard 4 of 100-row shards) gets a stray quote inside an unquoted field.
    const at = 1 + 437;
    const broken = [...lines.slice(0, at), 'this "row" is, broken"", positive', ...lines.slice(at)].join(
      '\n',
    );
    const f = stepFixture(applyOverrides(base, { data: { shard_rows: 100 } }));
    const start = await f.upload(broken);
    const error = (await ingestStep(f.deps, start).catch((e: unknown) => e)) as InvalidDatasetError;
    expect(error).toBeInstanceOf(InvalidDatasetError);
    const line = CSV.split('\n').slice(0, at).join('\n').split('\n').length + 1;
    expect(error.message).toMatch(new RegExp(`^malformed CSV on line ${line}, shard 4: `));
    expect(f.store.text(runKeys(start.runId).shards)).toBeUndefined();
    expect(f.store.text(runKeys(start.runId).input)).toBeUndefined();
  });
});
