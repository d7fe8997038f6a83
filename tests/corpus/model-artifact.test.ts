import { beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { ModelFormatError } from '../../shared/errors.ts';
import { splitTokens } from '../../shared/ml/fitting.ts';
import { sha256 } from '../../shared/ml/hash.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { cleanDocuments, fitFeatures, readAndSplitCsv, trainInProcess } from '../../shared/ml/training.ts';
import { sampleCsv } from '../helpers/data.ts';

describe('model artifact textops.model (v1, v2)', () => {
  let params: Params;
  let bytes: Buffer;
  let model: TextModel;

  beforeAll(async () => {
    params = applyOverrides(loadParams(), { train: { workers: 1 } });
    bytes = Buffer.from(sampleCsv('imdb-train.csv.gz', 600));
    model = (await trainInProcess(bytes, params, { codeVersion: 'test-1', tune: { enabled: false } })).model;
  });

  it('round-trips: the loaded model predicts exactly what the trained one does', () => {
    const artifact = model.toArtifact();
    const loaded = TextModel.fromArtifact(artifact, sha256(artifact));
    const text = 'An absolute masterpiece, I loved every minute of it.';
    expect(loaded.predict(text)).toEqual(model.predict(text));
    expect(loaded.labels).toEqual(['negative', 'positive']);
    expect(loaded.metrics?.accuracy).toBe(model.metrics?.accuracy);
    expect(loaded.lineage).toMatchObject({ codeVersion: 'test-1', dataFingerprint: sha256(bytes) });
  });

  it('is byte-identical for the same data, params and seed, apart from its timestamp', async () => {
    const again = (await trainInProcess(bytes, params, { codeVersion: 'test-1', tune: { enabled: false } }))
      .model;
    const strip = (m: TextModel) => {
      const doc = JSON.parse(m.toArtifact().toString());
      doc.created_at = '';
      return JSON.stringify(doc);
    };
    expect(sha256(strip(again))).toBe(sha256(strip(model)));
  });

  it('rejects a foreign document, another version, a checksum mismatch and truncated bytes', () => {
    const artifact = model.toArtifact();
    const doc = JSON.parse(artifact.toString());
    expect(() => TextModel.fromArtifact(Buffer.from('{"hello":"world"}'))).toThrow(/no "format" field/);
    expect(() =>
      TextModel.fromArtifact(Buffer.from(JSON.stringify({ ...doc, format: 'sklearn.pickle/v1' }))),
    ).toThrow(/not a textops model artifact: format 'sklearn.pickle\/v1'/);
    expect(() =>
      TextModel.fromArtifact(Buffer.from(JSON.stringify({ ...doc, format: 'textops.model/v4' }))),
    ).toThrow(/version 'v4' is not supported/);
    const unknownAnalyzer = { ...doc, features: { ...doc.features, analyzer: 'char' } };
    expect(() => TextModel.fromArtifact(Buffer.from(JSON.stringify(unknownAnalyzer)))).toThrow(
      /unknown features\.analyzer 'char'/,
    );
    expect(() => TextModel.fromArtifact(artifact, '0'.repeat(64))).toThrow(/checksum mismatch/);
    expect(() => TextModel.fromArtifact(artifact.subarray(0, 1000))).toThrow(ModelFormatError);
    const wrongSize = { ...doc, features: { ...doc.features, idf: doc.features.idf.slice(0, 8) } };
    expect(() => TextModel.fromArtifact(Buffer.from(JSON.stringify(wrongSize)))).toThrow(/features\.idf has/);
  });

  it('sees the same features at serving time as at training time for the same text', async () => {
    // Training cleans in worker threads (preprocess); serving cleans one text at a time in the server process.
    const texts = sampleCsv('imdb-train.csv.gz', 1200, 600)
      .split('\n')
      .slice(1, 40)
      .concat(['A dull, lifeless film.<br />Avoid it!', "It's the best thing I've seen in years"]);
    const docs = await cleanDocuments(texts, { ...params, train: { ...params.train, workers: 2 } });
    const trainRows = model.features(docs.map((d) => d.split(' ')));
    const serveRows = model.features(texts.map((t) => model.tokens(t)));
    expect(trainRows.indices.length).toBeGreaterThan(100);
    expect(serveRows).toEqual(trainRows);
  });

  it('carries a few test-split texts per class as examples, and stays readable both ways without them', () => {
    // Examples are rows of the test split this model never trained on, each class in turn, classified right.
    const test = readAndSplitCsv(bytes, params).test;
    expect(model.examples.map((e) => e.label)).toEqual(['negative', 'negative', 'positive', 'positive']);
    for (const e of model.examples) {
      expect(test.some((row) => row.label === e.label && row.text.trim() === e.text)).toBe(true);
      expect(model.predict(e.text).label).toBe(e.label);
    }
    const doc = JSON.parse(model.toArtifact().toString());
    // The field is an addition only: the format version stays, so older servers load these artifacts as before.
    expect(doc.format).toBe('textops.model/v1');
    expect(TextModel.fromArtifact(model.toArtifact()).examples).toEqual(model.examples);
    // An artifact from before examples (no field) loads with none; a model with none writes no field.
    delete doc.examples;
    const old = TextModel.fromArtifact(Buffer.from(JSON.stringify(doc)));
    expect(old.examples).toEqual([]);
    expect(old.predict('A fine film.')).toEqual(model.predict('A fine film.'));
    expect(JSON.parse(old.toArtifact().toString())).not.toHaveProperty('examples');
    // Entries that are not a text of one of the model's classes are left out, not fatal.
    doc.examples = [
      { label: 'positive', text: 'Great.' },
      { label: 'other', text: 'x' },
      { label: 'negative' },
      7,
    ];
    expect(TextModel.fromArtifact(Buffer.from(JSON.stringify(doc))).examples).toEqual([
      { label: 'positive', text: 'Great.' },
    ]);
  });

  it('loads an artifact written before feature analyzers existed (no analyzer field) as word n-grams', () => {
    const doc = JSON.parse(model.toArtifact().toString());
    expect(doc.format).toBe('textops.model/v1');
    expect(doc.features.analyzer).toBe('word');
    delete doc.features.analyzer;
    const old = TextModel.fromArtifact(Buffer.from(JSON.stringify(doc)));
    expect(old.vectorizer.state.analyzer).toBe('word');
    const text = 'Not the worst film, but close. Avoid!';
    expect(old.predict(text)).toEqual(model.predict(text));
  });

  for (const analyzer of ['char_wb', 'word+char'] as const) {
    it(`${analyzer}: written as v2, read back exactly, and serving sees the features training fitted`, async () => {
      const p = applyOverrides(params, { features: { analyzer, char_ngram_range: [2, 4] } });
      const trained = (await trainInProcess(bytes, p, { codeVersion: 'test-1', tune: { enabled: false } }))
        .model;
      const artifact = trained.toArtifact();
      const doc = JSON.parse(artifact.toString());
      expect(doc.format).toBe('textops.model/v2');
      expect(doc.features).toMatchObject({ analyzer, char_ngram_range: [2, 4] });
      const loaded = TextModel.fromArtifact(artifact);
      expect(loaded.vectorizer.state.wordFeatures).toBe(trained.vectorizer.state.wordFeatures);
      const texts = sampleCsv('imdb-train.csv.gz', 1200, 600)
        .split('\n')
        .slice(1, 30)
        .concat(['A dull, lifeless film.<br />Avoid it!', 'Ok 😀 naïve']);
      for (const text of texts) expect(loaded.predict(text)).toEqual(trained.predict(text));

      // The matrix fitTransform builds while fitting equals what transform (serving) makes of the same tokens.
      const docs = await cleanDocuments(texts, { ...p, train: { ...p.train, workers: 2 } });
      const fitted = fitFeatures(docs, p);
      expect(fitted.vectorizer.transform(docs.map(splitTokens))).toEqual(fitted.matrix);
      // And serving, cleaning one text at a time, sees what training's worker threads saw.
      const trainRows = loaded.features(docs.map(splitTokens));
      const serveRows = loaded.features(texts.map((t) => loaded.tokens(t)));
      expect(trainRows.indices.length).toBeGreaterThan(1000);
      expect(serveRows).toEqual(trainRows);
    });
  }
});
