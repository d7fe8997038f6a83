import { isMap, isScalar, isSeq, type Node, parseDocument, parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { anchor, canonical, code, page, prose, table } from './markdown.ts';

/** What the params page is made of: the schema that validates params, the shipped file, the upload rule. */
export interface ParamsPageInput {
  /** The zod schema of a params file. */
  schema: z.ZodType;
  /** The files the page is made from (named in its note). */
  sources: readonly string[];
  /** The text of the shipped params.yaml: its values are the defaults, its comments the descriptions. */
  paramsYaml: string;
  /** The sections an upload's `<name>.params.yaml` may set. */
  uploadSections: readonly string[];
  /** The other sections, each with the reason an upload may not set it. */
  deploymentOnly: Readonly<Record<string, string>>;
}

/** A JSON Schema node as zod emits it (draft 2020-12), as far as the page reads it. */
interface JsonNode {
  type?: string;
  anyOf?: JsonNode[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  pattern?: string;
  minItems?: number;
  items?: JsonNode | false;
  prefixItems?: JsonNode[];
  properties?: Record<string, JsonNode>;
  required?: string[];
}

/** The few zod internals the page reads: wrappers, object shapes and the messages of custom checks. */
interface ZodNode {
  def: {
    type: string;
    innerType?: ZodNode;
    shape?: Record<string, ZodNode>;
    checks?: { _zod: { def: { check: string; error?: (issue: unknown) => unknown } } }[];
  };
}

const WRAPPERS = new Set(['default', 'optional', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional']);

/**
 * The messages a key's checks were written with (`.refine(fn, 'must be …')`, `.regex(re, 'a Kubernetes
 * namespace name')`), from the key's schema and every wrapper around it: JSON Schema has no room for them.
 */
function checkMessages(node: ZodNode | undefined): { custom: string[]; pattern: string[] } {
  const out = { custom: [] as string[], pattern: [] as string[] };
  for (let n = node; n; n = WRAPPERS.has(n.def.type) ? n.def.innerType : undefined) {
    for (const check of n.def.checks ?? []) {
      const message = check._zod.def.error?.({});
      if (typeof message !== 'string') continue;
      (check._zod.def.check === 'string_format' ? out.pattern : out.custom).push(message);
    }
  }
  return out;
}

function zodChild(node: ZodNode | undefined, key: string): ZodNode | undefined {
  let n = node;
  while (n && WRAPPERS.has(n.def.type)) n = n.def.innerType;
  return n?.def.shape?.[key];
}

/** The comments of params.yaml, one text per dotted key path (`train.logistic_regression.C`). */
function yamlComments(text: string): Map<string, string> {
  const doc = parseDocument(text);
  const clean = (comment: string | null | undefined) =>
    (comment ?? '')
      .split('\n')
      .map((line) => line.trim())
      .join(' ')
      .trim();
  const out = new Map<string, string>();
  const walk = (node: unknown, path: string) => {
    if (!isMap(node)) return;
    node.items.forEach((pair, i) => {
      const key = `${path}${path ? '.' : ''}${String(isScalar(pair.key) ? pair.key.value : pair.key)}`;
      const value = pair.value as Node | null;
      const keyNode = pair.key as Node;
      // A key's own comment: after its value on the same line, else the lines just above the key, else (for a
      // block mapping or list) after the key on its line, which YAML attaches before the value.
      let comment = clean(value?.comment) || clean(keyNode.commentBefore) || clean(value?.commentBefore);
      // The comment above the first key of the file is part of the document's comment, after a blank line.
      if (!comment && path === '' && i === 0) {
        const paragraphs = (doc.commentBefore ?? '').split(/\n\s*\n/);
        if (paragraphs.length > 1) comment = clean(paragraphs.at(-1));
      }
      if (comment) out.set(key, comment);
      walk(value, key);
    });
  };
  walk(doc.contents, '');
  return out;
}

/** The text params.yaml spells a value with, as written (`0.0000002`, `[1, 2]`). */
function yamlSources(text: string): Map<string, string[]> {
  const doc = parseDocument(text);
  const out = new Map<string, string[]>();
  const source = (node: Node) => (node.range ? text.slice(node.range[0], node.range[1]).trim() : '');
  const walk = (node: unknown, path: string) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const key = `${path}${path ? '.' : ''}${String(isScalar(pair.key) ? pair.key.value : pair.key)}`;
      const value = pair.value as Node | null;
      if (isMap(value)) walk(value, key);
      else if (isSeq(value) && !value.flow)
        out.set(
          key,
          value.items.map((item) => source(item as Node)),
        );
      else if (value) out.set(key, [source(value)]);
    }
  };
  walk(doc.contents, '');
  return out;
}

/** The first sentence of a text, for a summary table. */
function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return end < 0 ? text : text.slice(0, end + 1);
}

/** A value as a YAML flow literal: `null`, `[2, 5]`, `{ analyzer: word }`. */
function inline(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (typeof value === 'object')
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${inline(v)}`)
      .join(', ')} }`;
  return String(value);
}

const PLURAL: Record<string, string> = {
  integer: 'integers',
  number: 'numbers',
  string: 'strings',
  boolean: 'booleans',
  mapping: 'mappings',
};

function typeName(node: JsonNode): string {
  if (node.anyOf) {
    const branches = [...node.anyOf].sort((a, b) => Number(a.type === 'null') - Number(b.type === 'null'));
    return branches.map(typeName).join(' or ');
  }
  if (node.type === 'array' && node.prefixItems) return `[${node.prefixItems.map(typeName).join(', ')}]`;
  if (node.type === 'array' && node.items) {
    const item = typeName(node.items);
    return `list of ${PLURAL[item] ?? `(${item})`}`;
  }
  if (node.type === 'object') return 'mapping';
  return node.type ?? 'any';
}

// zod gives every integer the bounds of a safe integer; they say nothing to a user.
const SAFE = Number.MAX_SAFE_INTEGER;

function range(node: JsonNode): string | undefined {
  const lo =
    node.exclusiveMinimum !== undefined
      ? `> ${node.exclusiveMinimum}`
      : node.minimum !== undefined && node.minimum > -SAFE
        ? `>= ${node.minimum}`
        : undefined;
  const hi =
    node.exclusiveMaximum !== undefined
      ? `< ${node.exclusiveMaximum}`
      : node.maximum !== undefined && node.maximum < SAFE
        ? `<= ${node.maximum}`
        : undefined;
  if (node.minimum !== undefined && lo?.startsWith('>=') && hi?.startsWith('<='))
    return `${node.minimum} to ${node.maximum}`;
  return [lo, hi].filter(Boolean).join(' and ') || undefined;
}

/** What a value may be, in words: a range, a list of choices, a pattern. */
function allowed(node: JsonNode): string[] {
  if (node.anyOf) {
    const parts = node.anyOf.filter((b) => b.type !== 'null').flatMap(allowed);
    return node.anyOf.some((b) => b.type === 'null') && parts.length > 0 ? [...parts, 'or `null`'] : parts;
  }
  if (node.enum) return [node.enum.map((v) => code(String(v))).join(' | ')];
  const out: string[] = [];
  const r = range(node);
  if (r) out.push(r);
  if (node.minLength === 1) out.push('not empty');
  if (node.pattern) out.push(`matches ${code(node.pattern)}`);
  if (node.type === 'array' && node.prefixItems?.[0]) {
    const each = allowed(node.prefixItems[0]);
    if (each.length > 0) out.push(`each ${each.join(', ')}`);
  }
  if (node.type === 'array' && node.items) {
    if (node.minItems) out.push(`at least ${node.minItems} ${node.minItems === 1 ? 'value' : 'values'}`);
    const items = node.items;
    if (items.type === 'object' && items.properties) {
      const keys = Object.keys(items.properties).map(
        (key) => `${code(key)}${items.required?.includes(key) ? '' : ' (optional)'}`,
      );
      out.push(`each with ${keys.join(', ')}`);
    } else {
      const each = allowed(items);
      if (each.length > 0) out.push(`each ${each.join(' ')}`);
    }
  }
  return out;
}

interface Row {
  path: string;
  node: JsonNode;
  zod: ZodNode | undefined;
  required: boolean;
}

/** Every key under a section, depth first in schema order: mappings first, then their keys. */
function rows(path: string, node: JsonNode, zod: ZodNode | undefined): Row[] {
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
    const childPath = `${path}.${key}`;
    const childZod = zodChild(zod, key);
    const row: Row = {
      path: childPath,
      node: child,
      zod: childZod,
      required: !!node.required?.includes(key),
    };
    return child.type === 'object' && child.properties ? [row, ...rows(childPath, child, childZod)] : [row];
  });
}

/**
 * docs/reference/params.md: every key of a params file, from the schema (type, allowed values, whether it may
 * be left out) and the shipped params.yaml (its value there, and its comment as the description). The
 * comments are the one place a key is described: a user editing params.yaml reads the same words as this page.
 */
export function renderParamsPage(input: ParamsPageInput): string {
  const json = z.toJSONSchema(input.schema, { io: 'input', unrepresentable: 'any' }) as JsonNode;
  const zod = input.schema as unknown as ZodNode;
  const comments = yamlComments(input.paramsYaml);
  const sources = yamlSources(input.paramsYaml);
  const shipped = parseYaml(input.paramsYaml) as Record<string, unknown>;
  const sections = Object.entries(json.properties ?? {});
  const upload = new Set(input.uploadSections);

  const describe = (path: string): string => {
    const comment = comments.get(path);
    if (!comment)
      throw new Error(
        `params.yaml has no comment for '${path}': describe the key there (after its value, or on the line above), then run npm run docs:reference`,
      );
    return prose(comment);
  };
  for (const [name] of sections) {
    if (!upload.has(name) && !(name in input.deploymentOnly))
      throw new Error(`section '${name}' is neither upload-overridable nor deployment-only`);
    if (!(name in shipped))
      throw new Error(`params.yaml has no '${name}' section: the page shows its values`);
  }

  const overview = table(
    ['Section', 'What it sets', "An upload's params file"],
    sections.map(([name]) => [
      `[${code(name)}](#${anchor(name)})`,
      firstSentence(describe(name)),
      upload.has(name) ? 'may set it' : 'may not set it',
    ]),
  );

  const sectionBlocks = sections.flatMap(([name, node]) => {
    const sectionZod = zodChild(zod, name);
    const whole =
      node.default === undefined
        ? ''
        : canonical(node.default) === canonical(shipped[name])
          ? ' A params file may leave the whole section out: it then takes the values of the Default column.'
          : ` A params file may leave the whole section out: it then takes ${code(inline(node.default))}.`;
    const rule = upload.has(name)
      ? `An upload's ${code('<name>.params.yaml')} may set these keys for its run.`
      : `An upload's ${code('<name>.params.yaml')} may not set these keys: ${input.deploymentOnly[name]}.`;
    const body = rows(name, node, sectionZod).map((row) => {
      const messages = checkMessages(row.zod);
      const shown = sources.get(row.path);
      const isMapping = row.node.type === 'object' && !!row.node.properties;
      if (!isMapping && !shown)
        throw new Error(`params.yaml does not set '${row.path}': the page shows its value there`);
      const constraints = [
        ...allowed(row.node).map((text) =>
          text.startsWith('matches ') && messages.pattern.length > 0
            ? `${messages.pattern.join('; ')} (${text})`
            : text,
        ),
        ...messages.custom,
      ];
      return [
        code(row.path),
        typeName(row.node),
        isMapping ? messages.custom.join('; ') : constraints.join('; '),
        isMapping ? '' : (shown ?? []).map(code).join('<br>'),
        isMapping ? '' : row.required ? 'yes' : `no (${code(inline(row.node.default))})`,
        describe(row.path),
      ];
    });
    const sectionChecks = checkMessages(sectionZod).custom.map((m) => `Also checked: ${prose(m)}.`);
    return [
      `## ${name}`,
      `${describe(name)}${whole}`,
      [rule, ...sectionChecks].join(' '),
      table(['Key', 'Type', 'Allowed', 'Default', 'Required', 'Description'], body),
    ];
  });

  return page('params.yaml reference', input.sources, [
    'Every setting of training, evaluation and serving comes from one YAML file, `params.yaml`: the one in the working directory, else the one shipped with textops (commands that read it take `--params <file>`, see the [CLI reference](cli.md)). It is validated once, at start: an unknown key or a bad value fails with a message that names the key and says why.',
    `A training upload may carry overrides: ${code('incoming/<name>.params.yaml')} beside ${code('incoming/<name>.csv')} (${code('textops upload --params-file')}), or ${code('textops train --overrides <file>')} locally. Such a file holds only the keys to change, may set keys of ${input.uploadSections.map(code).join(', ')} only, and applies to that run alone; a key of another section is refused by name. Where the files live: [bucket layout](bucket-layout.md).`,
    '**Default** is the value in the shipped `params.yaml`. **Required** says whether a params file may leave the key out, and what it then takes. **Allowed** lists what validation accepts; anything else fails with the key named.',
    overview,
    ...sectionBlocks,
  ]);
}
