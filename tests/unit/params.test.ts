import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  applyOverrides,
  applyUploadOverrides,
  loadOverrides,
  loadParams,
  parseParamsYaml,
  UPLOAD_OVERRIDABLE_SECTIONS,
  validateParams,
} from '../../shared/config/params.ts';
import { DEFAULT_COST, DEFAULT_EKS, DEFAULT_RELEASE } from '../../shared/config/params-schema.ts';
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

  it("reads params from before the EKS route and the cost estimate with their defaults (a run's stored params)", () => {
    const { eks: _e, cost: _c, ...before } = loadParams();
    const old = validateParams(before);
    expect(old.eks).toEqual(DEFAULT_EKS);
    expect(old.cost).toEqual(DEFAULT_COST);
    // The shipped params.yaml says the same as the defaults in code.
    expect(loadParams().eks).toEqual(DEFAULT_EKS);
    expect(loadParams().cost).toEqual(DEFAULT_COST);
  });

  it('reads params from before the release section and the paired gate with their defaults', () => {
    const { release: _r, ...before } = loadParams();
    const { promote_when: _p, significance: _s, bootstrap_samples: _b, ...evaluate } = before.evaluate;
    const old = validateParams({ ...before, evaluate });
    expect(old.release).toEqual(DEFAULT_RELEASE);
    expect(old.evaluate).toMatchObject({
      promote_when: 'not_worse',
      significance: 0.05,
      bootstrap_samples: 2000,
    });
    expect(loadParams().release).toEqual(DEFAULT_RELEASE);
  });

  it('takes the three release strategies and refuses bad release settings by name', () => {
    const base = loadParams();
    for (const strategy of ['direct', 'shadow', 'canary'] as const)
      expect(applyOverrides(base, { release: { strategy } }).release.strategy).toBe(strategy);
    expect(() => applyOverrides(base, { release: { canary: { percent: 0 } } })).toThrow(
      /'release\.canary\.percent'/,
    );
    expect(() => applyOverrides(base, { release: { canary: { percent: 75 } } })).toThrow(
      /'release\.canary\.percent'/,
    );
    expect(() => applyOverrides(base, { release: { rules: { min_agreement: 1.5 } } })).toThrow(
      /'release\.rules\.min_agreement'/,
    );
    expect(() => applyOverrides(base, { release: { strategy: 'linear' } })).toThrow(/'release\.strategy'/);
    expect(() => applyOverrides(base, { release: { approval: 'maybe' } })).toThrow(/'release\.approval'/);
    expect(() => applyOverrides(base, { release: { approval_timeout_hours: 0 } })).toThrow(
      /'release\.approval_timeout_hours'/,
    );
    expect(() =>
      applyOverrides(base, { release: { notifications: { webhook_secret_env: 'lower-case' } } }),
    ).toThrow(/'release\.notifications\.webhook_secret_env': an environment variable name/);
    expect(applyOverrides(base, { release: { approval: 'manual' } }).release.approval).toBe('manual');
  });
});

describe("an upload's params file", () => {
  const base = loadParams();

  it('may change data, cleaning, features, tuning and training', () => {
    expect(UPLOAD_OVERRIDABLE_SECTIONS).toEqual(['data', 'clean', 'features', 'train', 'tune']);
    const params = applyUploadOverrides(base, {
      data: { seed: 7 },
      clean: { lemmatize: true },
      features: { min_df: 2 },
      train: { classifier: 'naive_bayes' },
    });
    expect(params).toMatchObject({
      data: { seed: 7 },
      clean: { lemmatize: true },
      features: { min_df: 2 },
      train: { classifier: 'naive_bayes' },
    });
  });

  it('refuses absurd values (1e8 iterations, seconds, 1e12 characters) by name, with the bound and why', () => {
    const overrides = parseParamsYaml(
      'train:\n  logistic_regression:\n    max_iter: 1e8\ntune:\n  max_seconds: 1e8\ndata:\n  max_text_chars: 1e12\n',
      'incoming/a.params.yaml',
    );
    expect(() => applyUploadOverrides(base, overrides, 'incoming/a.params.yaml')).toThrow(ConfigError);
    let message = '';
    try {
      applyUploadOverrides(base, overrides, 'incoming/a.params.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('invalid parameters in incoming/a.params.yaml');
    expect(message).toContain(
      "'train.logistic_regression.max_iter': at most 10000: L-BFGS converges in hundreds of iterations; more only uses time",
    );
    expect(message).toContain(
      "'tune.max_seconds': at most 3600 (one hour): the whole run has two hours of work, and training and evaluation follow the sweep",
    );
    expect(message).toContain(
      "'data.max_text_chars': at most 10000000 characters: a longer field is no text to classify",
    );
    // The bounds themselves are accepted.
    const atBounds = applyUploadOverrides(base, {
      train: { logistic_regression: { max_iter: 10_000 } },
      tune: { max_seconds: 3600 },
      data: { max_text_chars: 10_000_000 },
    });
    expect(atBounds.tune.max_seconds).toBe(3600);
  });

  it('may not lower the quality gate, rename the model or change serving; each key is named', () => {
    expect(() =>
      applyUploadOverrides(base, { evaluate: { min_score: 0, max_regression: 1 } }, 'u.params.yaml'),
    ).toThrow(
      "u.params.yaml: evaluate.min_score, evaluate.max_regression may not be set by an upload's params file: the quality gate belongs to the deployment (params.yaml)",
    );
    expect(() => applyUploadOverrides(base, { model: { name: 'other' } })).toThrow(
      /model\.name may not be set by an upload's params file: the model name belongs to the deployment/,
    );
    expect(() => applyUploadOverrides(base, { serving: { max_batch_items: 5 } })).toThrow(
      /serving\.max_batch_items may not be set .*serving settings belong to the deployment/,
    );
    // Where a step runs (and so what it costs) and the prices of the estimate are the deployment's too.
    expect(() => applyUploadOverrides(base, { eks: { route_above_rows: 0 } })).toThrow(
      /eks\.route_above_rows may not be set .*where a step runs \(Lambda or an EKS job\) belongs to the deployment/,
    );
    expect(() => applyUploadOverrides(base, { cost: { s3_get_usd: 0 } })).toThrow(
      /cost\.s3_get_usd may not be set/,
    );
    // How a passed version reaches production, and who is told, is the deployment's as well.
    expect(() => applyUploadOverrides(base, { release: { approval: 'none' } })).toThrow(
      /release\.approval may not be set .*how a version reaches production .* belongs to the deployment/,
    );
    expect(() =>
      applyUploadOverrides(base, { release: { notifications: { webhook_url: 'https://example.org/' } } }),
    ).toThrow(/release\.notifications\.webhook_url may not be set/);
    // A whole section given as a scalar is still named, and a refusal comes before any other check.
    expect(() => applyUploadOverrides(base, { evaluate: 0, train: { classifier: 'svm' } })).toThrow(
      /evaluate may not be set/,
    );
    // Even a value equal to the deployment's is refused: the file may not name the key at all.
    expect(() => applyUploadOverrides(base, { evaluate: { min_score: base.evaluate.min_score } })).toThrow(
      ConfigError,
    );
  });

  it("refuses data.checks in an upload: the contract is the deployment's, and an upload may not loosen it", () => {
    expect(() =>
      applyUploadOverrides(base, { data: { checks: { labels_added: { action: 'off' } } } }, 'u.params.yaml'),
    ).toThrow(
      /u\.params\.yaml: data\.checks\.labels_added\.action may not be set by an upload's params file/,
    );
    // The rest of data stays the upload's to set.
    expect(applyUploadOverrides(base, { data: { test_size: 0.3 } }).data.test_size).toBe(0.3);
  });

  it('applies the same rule to textops train --overrides', () => {
    const file = writeTemp('train:\n  workers: 1\nevaluate:\n  min_score: 0\n');
    expect(() => loadOverrides(base, file)).toThrow(/evaluate\.min_score may not be set/);
    expect(loadOverrides(base, writeTemp('train:\n  workers: 1\n')).train.workers).toBe(1);
  });

  it('leaves applyOverrides (params merged in code) unrestricted', () => {
    expect(applyOverrides(base, { evaluate: { min_score: 0.5 } }).evaluate.min_score).toBe(0.5);
  });
});
