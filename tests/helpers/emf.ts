import { Ajv } from 'ajv';
import { vi } from 'vitest';

/**
 * The structural part of the CloudWatch Embedded Metric Format specification as a JSON schema: the root
 * `_aws` metadata with `Timestamp` (epoch ms) and `CloudWatchMetrics`, each directive with `Namespace`,
 * `Dimensions` (arrays of at most 30 dimension keys) and `Metrics` (at most 100, each with a `Name`, an
 * optional standard `Unit` and `StorageResolution` 1 or 60).
 */
const EMF_SCHEMA = {
  type: 'object',
  required: ['_aws'],
  properties: {
    _aws: {
      type: 'object',
      required: ['Timestamp', 'CloudWatchMetrics'],
      properties: {
        Timestamp: { type: 'integer', minimum: 0 },
        CloudWatchMetrics: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['Namespace', 'Dimensions', 'Metrics'],
            properties: {
              Namespace: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[^:].*$' },
              Dimensions: {
                type: 'array',
                items: {
                  type: 'array',
                  minItems: 0,
                  maxItems: 30,
                  items: { type: 'string', minLength: 1, maxLength: 250 },
                },
              },
              Metrics: {
                type: 'array',
                maxItems: 100,
                items: {
                  type: 'object',
                  required: ['Name'],
                  properties: {
                    Name: { type: 'string', minLength: 1, maxLength: 1024 },
                    Unit: {
                      enum: [
                        'Seconds',
                        'Microseconds',
                        'Milliseconds',
                        'Bytes',
                        'Kilobytes',
                        'Megabytes',
                        'Gigabytes',
                        'Terabytes',
                        'Bits',
                        'Kilobits',
                        'Megabits',
                        'Gigabits',
                        'Terabits',
                        'Percent',
                        'Count',
                        'Bytes/Second',
                        'Kilobytes/Second',
                        'Megabytes/Second',
                        'Gigabytes/Second',
                        'Terabytes/Second',
                        'Bits/Second',
                        'Kilobits/Second',
                        'Megabits/Second',
                        'Gigabits/Second',
                        'Terabits/Second',
                        'Count/Second',
                        'None',
                      ],
                    },
                    StorageResolution: { enum: [1, 60] },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

const validateSchema = new Ajv({ allErrors: true }).compile(EMF_SCHEMA);

export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit?: string }[];
    }[];
  };
  [key: string]: unknown;
}

/**
 * Checks one EMF document against the specification: the schema above, then the references it implies —
 * every dimension key names a top-level string member, every metric name a top-level number or array of
 * at most 100 numbers. Returns the problems found (empty when valid).
 */
export function emfProblems(doc: unknown): string[] {
  if (!validateSchema(doc)) return (validateSchema.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  const emf = doc as EmfDocument;
  const problems: string[] = [];
  for (const directive of emf._aws.CloudWatchMetrics) {
    for (const set of directive.Dimensions)
      for (const key of set)
        if (typeof emf[key] !== 'string') problems.push(`dimension ${key} has no top-level string value`);
    for (const { Name } of directive.Metrics) {
      const value = emf[Name];
      const ok =
        (typeof value === 'number' && Number.isFinite(value)) ||
        (Array.isArray(value) &&
          value.length > 0 &&
          value.length <= 100 &&
          value.every((v) => typeof v === 'number' && Number.isFinite(v)));
      if (!ok) problems.push(`metric ${Name} has no top-level numeric value`);
    }
  }
  return problems;
}

/** Runs `act` and returns the EMF documents it wrote to stdout (where Powertools writes them). */
export async function captureStdoutJson(act: () => unknown): Promise<EmfDocument[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n'));
    return true;
  });
  try {
    await act();
  } finally {
    spy.mockRestore();
  }
  // Handlers also log JSON lines to stdout; EMF documents are the ones with `_aws` metadata.
  return lines
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((doc): doc is EmfDocument => '_aws' in doc);
}

/** The metric values of one name across documents, with each document's dimensions. */
export function emfValues(
  docs: EmfDocument[],
  name: string,
): { value: number[]; dims: Record<string, string> }[] {
  const out: { value: number[]; dims: Record<string, string> }[] = [];
  for (const doc of docs) {
    const directive = doc._aws.CloudWatchMetrics.find((d) => d.Metrics.some((m) => m.Name === name));
    if (!directive) continue;
    const raw = doc[name] as number | number[];
    const dims = Object.fromEntries((directive.Dimensions[0] ?? []).map((k) => [k, String(doc[k])]));
    out.push({ value: Array.isArray(raw) ? raw : [raw], dims });
  }
  return out;
}
