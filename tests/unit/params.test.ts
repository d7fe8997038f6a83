import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams, parseParamsYaml, validateParams } from '../../shared/config/params.ts';
import { ConfigError } from '../../shared/errors.ts';

function writeTemp(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'textops-params-')), 'params.yaml');
  writeFileSync(file, text);
  return file;
}

describe('params.yaml', () => {
  it('loads the shipped defaults, validated and frozen', () => {
    const params = loadParams();
    expect(params.features.ngram_range).toEqual([1, 2]);
    expect(params.train.classifier).toBe('logistic_regression');
    expect(params.features.analyzer).toBe('word');
    expect(params.train.logistic_regression.class_weight).toBeNull();
    expect(Object.isFrozen(params.train.logistic_regression)).toBe(true);
  });

  it('names the bad key and why', () => {
    const base = loadParams();
    expect(() => applyOverrides(base, { features: { min_df: -1 } }, 'x.params.yaml')).toThrow(
      /x\.params\.yaml: 'features\.min_df'/,
    );
    expect(() => applyOverrides(base, { train: { classifier: 'svm' } })).toThrow(/'train\.classifier'/);
    expect(() => applyOverrides(base, { features: { ngram_range: [3, 1] } })).toThrow(/ngram_range/);
    expect(() => applyOverrides(base, { features: { analyzer: 'char' } })).toThrow(/'features\.analyzer'/);
    expect(() => applyOverrides(base, { features: { char_ngram_range: [5, 2] } })).toThrow(
      /'features\.char_ngram_range'/,
    );
    expect(() => applyOverrides(base, { train: { logistic_regression: { class_weight: 'auto' } } })).toThrow(
      /'train\.logistic_regression\.class_weight'/,
    );
    expect(() =>
      applyOverrides(base, { train: { logistic_regression: { nb_scaling: true, nb_blend: 0.3 } } }),
    ).toThrow(/'train\.logistic_regression\.nb_blend'.*cannot be combined/);
  });

  it('rejects unknown keys by name', () => {
    const base = loadParams();
    expect(() => applyOverrides(base, { train: { learning_rate: 0.1 } })).toThrow(
      /unknown key 'train\.learning_rate'/,
    );
  });

  it('merges overrides key by key and leaves the base untouched', () => {
    const base = loadParams();
    const merged = applyOverrides(base, { train: { logistic_regression: { C: 1 } } });
    expect(merged.train.logistic_regression.C).toBe(1);
    expect(merged.train.logistic_regression.max_iter).toBe(base.train.logistic_regression.max_iter);
    expect(base.train.logistic_regression.C).not.toBe(1);
  });

  it('reports invalid YAML and a non-mapping override as ConfigError', () => {
    expect(() => parseParamsYaml('a: [1, 2', 'bad.yaml')).toThrow(ConfigError);
    expect(() => applyOverrides(loadParams(), ['not', 'a', 'mapping'])).toThrow(/must be a YAML mapping/);
  });

  it('reads a params file given by path and fails clearly on a missing one', () => {
    const text = parseParamsYaml('features:\n  min_df: 5\n', 'inline');
    const file = writeTemp(
      JSON.stringify(applyOverrides(loadParams(), text)), // JSON is YAML
    );
    expect(loadParams(file).features.min_df).toBe(5);
    expect(() => loadParams('/nonexistent/params.yaml')).toThrow(/cannot read params file/);
  });

  it('reads a params file from before analyzers and class weights as word n-grams, unweighted', () => {
    const base = loadParams();
    const { analyzer: _a, char_ngram_range: _c, ...features } = base.features;
    const { class_weight: _w, ...lr } = base.train.logistic_regression;
    const old = validateParams({ ...base, features, train: { ...base.train, logistic_regression: lr } });
    expect(old.features).toMatchObject({ analyzer: 'word', char_ngram_range: [2, 5] });
    expect(old.train.logistic_regression.class_weight).toBeNull();
  });
});
