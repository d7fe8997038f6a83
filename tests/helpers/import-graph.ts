import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { ROOT, sourceFiles } from './source-files.ts';

/** Each source file (repository-relative) and the repository files it imports, `import type` included. */
export type ImportGraph = Map<string, string[]>;

/** The specifiers a file's imports name, relative and package ones, as written. */
export function importSpecifiers(text: string): string[] {
  const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  // Worker paths outside comments: a comment that shows the form is not an import.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  for (const match of code.matchAll(/new URL\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url/g))
    specifiers.push(match[1]);
  return specifiers;
}

/** Each source file under `dirs` and the packages it imports (`@aws-sdk/client-s3`, `node:fs`). */
export function readPackageImports(dirs: string[]): Map<string, string[]> {
  return new Map(
    dirs
      .flatMap((dir) => sourceFiles(dir))
      .map((file) => [
        file,
        importSpecifiers(readFileSync(join(ROOT, file), 'utf8')).filter(
          (s) => !s.startsWith('.') && !s.startsWith('/'),
        ),
      ]),
  );
}

/**
 * Reads the relative imports of every source file under `dirs`: static imports and re-exports, dynamic
 * `import()` and `new URL('./x.ts', import.meta.url)` worker paths. TypeScript's own pre-processor finds them,
 * so an import inside a comment or a string is not one.
 */
export function readImportGraph(dirs: string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of dirs.flatMap((dir) => sourceFiles(dir))) {
    const targets = importSpecifiers(readFileSync(join(ROOT, file), 'utf8'))
      .filter((s) => s.startsWith('.'))
      .map((s) => normalize(join(dirname(file), s)).replace(/\.js$/, '.ts'));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The import circles of a graph: its strongly connected components of more than one file, or a self-import. */
export function importCircles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  let next = 0;
  // Iterative Tarjan, so a deep chain of imports cannot overflow the call stack.
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { file: string; edge: number }[] = [{ file: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const edges = (graph.get(frame.file) ?? []).filter((t) => graph.has(t));
      if (frame.edge < edges.length) {
        const target = edges[frame.edge++];
        if (!index.has(target)) {
          index.set(target, next);
          low.set(target, next++);
          stack.push(target);
          onStack.add(target);
          work.push({ file: target, edge: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.file, Math.min(low.get(frame.file)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].file;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.file)!));
      }
      if (low.get(frame.file) === index.get(frame.file)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.file);
        const selfImport = (graph.get(frame.file) ?? []).includes(frame.file);
        if (component.length > 1 || selfImport) circles.push(component.sort());
      }
    }
  }
  return circles;
}

/**
 * A layer order: groups of folders, lowest first. A file may import a file of its own group's folder, or of a
 * folder in a lower group; folders of one group stay independent of each other.
 */
export interface LayerOrder {
  /** The folder whose sub-folders the order ranks, e.g. `shared`. */
  base: string;
  /** Lowest first; `.` names the files directly in `base`. */
  layers: string[][];
}

/** `shared/pipeline/run/keys.ts` in base `shared` → `pipeline`; a file directly in the base → `.`. */
export function folderOf(file: string, base: string): string | undefined {
  const rest = relative(base, file);
  if (rest.startsWith('..')) return undefined;
  const parts = rest.split('/');
  return parts.length === 1 ? '.' : parts[0];
}

/** Every import that breaks the order, as `from -> to (folder A may not import folder B)`. */
export function layerViolations(graph: ImportGraph, order: LayerOrder): string[] {
  const rank = new Map<string, number>();
  order.layers.forEach((group, i) => {
    for (const folder of group) rank.set(folder, i);
  });
  const out: string[] = [];
  for (const [file, targets] of graph) {
    const from = folderOf(file, order.base);
    if (from === undefined) continue;
    for (const target of targets) {
      const to = folderOf(target, order.base);
      if (to === undefined || to === from) continue;
      const a = rank.get(from);
      const b = rank.get(to);
      if (a === undefined || b === undefined) {
        out.push(
          `${file} -> ${target} (folder ${a === undefined ? from : to} has no place in the layer order)`,
        );
      } else if (b >= a) {
        const why = b === a ? 'a folder of the same layer' : 'a higher layer';
        out.push(`${file} -> ${target} (${from} may not import ${to}: ${why})`);
      }
    }
  }
  return out.sort();
}

/** Imports from files under `from` into files under any of `forbidden`. */
export function crossings(graph: ImportGraph, from: string, forbidden: string[]): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph) {
    if (!file.startsWith(`${from}/`) && file !== from) continue;
    for (const target of targets)
      if (forbidden.some((f) => target.startsWith(`${f}/`))) out.push(`${file} -> ${target}`);
  }
  return out.sort();
}

/** A copy of the graph with extra edges, for proving that a check catches what it should. */
export function withEdges(graph: ImportGraph, edges: [string, string][]): ImportGraph {
  const copy: ImportGraph = new Map([...graph].map(([file, targets]) => [file, [...targets]]));
  for (const [from, to] of edges) copy.set(from, [...(copy.get(from) ?? []), to]);
  return copy;
}
