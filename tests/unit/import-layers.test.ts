import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  crossings,
  type ImportGraph,
  importCircles,
  importSpecifiers,
  type LayerOrder,
  layerViolations,
  readImportGraph,
  readPackageImports,
  withEdges,
} from '../helpers/import-graph.ts';
import { ROOT } from '../helpers/source-files.ts';

// The layer order of shared/, lowest first (docs/design.md, "Code layers"): the files directly in shared/ (errors,
// logging, the bucket's prefixes, the ports) know nothing above them; the ML core knows only configuration; the
// pipeline composes the ML core, the registry and feedback; the AWS adapters and observability wrap the pipeline;
// serving and the console sit on top and stay independent of each other.
const SHARED: LayerOrder = {
  base: 'shared',
  layers: [
    ['.'],
    ['config'],
    ['http', 'ml'],
    ['data', 'registry'],
    ['feedback'],
    ['pipeline'],
    ['aws'],
    ['observability'],
    ['serving', 'console'],
  ],
};

// Inside the pipeline: a run's records, keys and files know nothing of the file formats or the steps; the formats
// know the run records (a report shows the gate's decision) and nothing of the steps.
const PIPELINE: LayerOrder = {
  base: 'shared/pipeline',
  layers: [['run'], ['formats'], ['steps']],
};

const SOURCE_DIRS = ['shared', 'functions', 'cli', 'local', 'scripts', 'infra', 'bin', 'tests'].filter(
  (dir) => existsSync(join(ROOT, dir)),
);
const graph: ImportGraph = readImportGraph(SOURCE_DIRS);
const sharedGraph: ImportGraph = new Map([...graph].filter(([file]) => file.startsWith('shared/')));

describe('import layers', () => {
  it('reads the imports of the real tree', () => {
    // Static, dynamic and `new URL(…, import.meta.url)` imports are all edges.
    expect(graph.size).toBeGreaterThan(200);
    const edges = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
    expect(edges).toBeGreaterThan(500);
    // dist/ holds build outputs (a bench imports the built CLI): `npm run build` makes them, not the sources.
    for (const [file, targets] of graph)
      for (const target of targets)
        if (!target.includes('node_modules') && !target.startsWith('dist/') && /\.(ts|mts|mjs)$/.test(target))
          expect(existsSync(join(ROOT, target)), `${file} imports ${target}`).toBe(true);
  });

  it('has no import circle anywhere', () => {
    expect(importCircles(graph)).toEqual([]);
  });

  it('keeps every folder under shared/ in its layer', () => {
    const folders = new Set(
      [...sharedGraph.keys()].map((f) => f.split('/')[1]).filter((p) => !p.endsWith('.ts')),
    );
    const ranked = new Set(SHARED.layers.flat());
    expect([...folders].filter((f) => !ranked.has(f))).toEqual([]);
    expect(layerViolations(sharedGraph, SHARED)).toEqual([]);
  });

  it('keeps the pipeline sub-folders in their order', () => {
    expect(layerViolations(sharedGraph, PIPELINE)).toEqual([]);
  });

  it('keeps shared/ free of the runtimes, the CLI, scripts and tests; scripts free of tests', () => {
    expect(
      crossings(graph, 'shared', ['functions', 'cli', 'local', 'scripts', 'infra', 'tests', 'bin']),
    ).toEqual([]);
    expect(crossings(graph, 'scripts', ['tests'])).toEqual([]);
    expect(crossings(graph, 'functions', ['cli', 'local', 'tests', 'scripts'])).toEqual([]);
    expect(crossings(graph, 'infra', ['tests'])).toEqual([]);
  });

  it('keeps the ML core pure: no AWS SDK, no HTTP framework, no metrics client', () => {
    const impure = /^(@aws-sdk\/|@middy\/|express$|serverless-http$|prom-client$|@aws-lambda-powertools\/)/;
    const found = [...readPackageImports(['shared/ml'])].flatMap(([file, packages]) =>
      packages.filter((p) => impure.test(p)).map((p) => `${file} -> ${p}`),
    );
    expect(found).toEqual([]);
  });

  it('sees static, re-export, type, dynamic and worker-URL imports, and none in comments', () => {
    const text = [
      "import { a } from '../../cli/commands/x.ts';",
      "export { b } from '../../local/y.ts';",
      "const c = await import('../../functions/z.ts');",
      "import type { D } from '../config/params.ts';",
      // Split so this file's own text holds no worker URL.
      "new Worker(new URL('./worker.ts', import" + '.meta.url));',
      "import { S3Client } from '@aws-sdk/client-s3';",
      "// import { e } from '../not/an/import.ts';",
    ].join('\n');
    expect(importSpecifiers(text).sort()).toEqual(
      [
        '../../cli/commands/x.ts',
        '../../local/y.ts',
        '../../functions/z.ts',
        '../config/params.ts',
        './worker.ts',
        '@aws-sdk/client-s3',
      ].sort(),
    );
  });

  it('catches a planted circle, a planted upward import and a planted import across one layer', () => {
    // A real edge inside the ML core, turned into a circle by its reverse.
    const [from, to] = [...sharedGraph]
      .filter(([file]) => file.startsWith('shared/ml/'))
      .flatMap(([file, targets]) =>
        targets.filter((t) => t.startsWith('shared/ml/')).map((t) => [file, t]),
      )[0];
    const circles = importCircles(withEdges(graph, [[to, from]]));
    expect(circles.some((c) => c.includes(from) && c.includes(to))).toBe(true);

    const planted = withEdges(sharedGraph, [
      ['shared/ml/model.ts', 'shared/serving/app.ts'],
      ['shared/serving/app.ts', 'shared/console/app.ts'],
      ['shared/errors.ts', 'shared/config/env.ts'],
    ]);
    expect(layerViolations(planted, SHARED)).toEqual([
      'shared/errors.ts -> shared/config/env.ts (. may not import config: a higher layer)',
      'shared/ml/model.ts -> shared/serving/app.ts (ml may not import serving: a higher layer)',
      'shared/serving/app.ts -> shared/console/app.ts (serving may not import console: a folder of the same layer)',
    ]);

    const steps = [...sharedGraph.keys()].find((f) => f.startsWith('shared/pipeline/steps/'))!;
    const formats = [...sharedGraph.keys()].find((f) => f.startsWith('shared/pipeline/formats/'))!;
    expect(layerViolations(withEdges(sharedGraph, [[formats, steps]]), PIPELINE)).toEqual([
      `${formats} -> ${steps} (formats may not import steps: a higher layer)`,
    ]);

    expect(
      crossings(withEdges(graph, [['scripts/build.mjs', 'tests/helpers/cli.ts']]), 'scripts', ['tests']),
    ).toEqual(['scripts/build.mjs -> tests/helpers/cli.ts']);
  });
});
