import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { cardHtml, cardMarkdown, type ModelCard, modelCard } from '../../shared/console/model-card.ts';
import { ConfigError, NotFoundError } from '../../shared/errors.ts';
import { CHECKSUM_FILE, METRICS_FILE, MODEL_FILE } from '../../shared/ml/model-directory.ts';
import { printableDeep, printableJson } from '../../shared/printable.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { table } from '../pipeline-output.ts';
import {
  MODEL_HELP,
  modelFor,
  type PipelineTarget,
  registryFor,
  resolveTarget,
  TARGET_HELP,
  targetModels,
} from '../pipeline-target.ts';

interface ModelsOptions {
  model?: string;
  json?: boolean;
  export?: string;
  version?: string;
  bucket?: string;
  runtimeDir?: string;
}

export function registerModels(program: Command): void {
  const models = program.command('models');
  models
    .command('card')
    .description('the model card of a version: intended use, data, metrics per class, gate, limitations')
    .argument('<version>', 'version number (as listed by textops models)')
    .option('--markdown', 'print Markdown (default: plain text)')
    .option('--html', 'print the HTML page the console serves')
    .option('--model <name>', MODEL_HELP)
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .action(async (versionText: string, _options: unknown, command: Command) => {
      // `models` has --model/--bucket/--runtime-dir of its own, which commander gives to `models` wherever they appear.
      const options = command.optsWithGlobals<{
        markdown?: boolean;
        html?: boolean;
        model?: string;
        bucket?: string;
        runtimeDir?: string;
      }>();
      const version = Number(versionText.replace(/^v/, ''));
      if (!Number.isInteger(version) || version < 1)
        throw new ConfigError(`'${versionText}' is not a version number`);
      const registry = await registryFor(await resolveTarget(options), options.model);
      const [entry, { aliases }] = await Promise.all([registry.getVersion(version), registry.readAliases()]);
      if (!entry) throw new NotFoundError(`model ${registry.modelName} has no version ${version}`);
      const card = printableDeep(modelCard(entry, aliases));
      if (options.html) process.stdout.write(cardHtml(card, `${registry.modelName}-v${version}-card.md`));
      else if (options.markdown) process.stdout.write(cardMarkdown(card));
      else process.stdout.write(`${cardText(card)}\n`);
    });
  models
    .description(
      "list the models in the registry; one model's versions with their aliases, metrics and lineage; export one",
    )
    .option('--model <name>', MODEL_HELP)
    .option('--export <dir>', 'write a version as a model directory (for textops predict/serve)')
    .option('--version <n>', 'the version to export (default: production)')
    .option('--json', 'print JSON')
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .action(async (options: ModelsOptions) => {
      const target = await resolveTarget(options);
      if (options.export) {
        const registry = await registryFor(target, options.model);
        const { aliases } = await registry.readAliases();
        const version = options.version ? Number(options.version) : aliases.production;
        if (version === null || !Number.isInteger(version)) {
          throw new NotFoundError(
            `model ${registry.modelName} has no production version to export (name one with --version)`,
          );
        }
        const { bytes, entry } = await registry.readArtifact(version);
        await mkdir(options.export, { recursive: true });
        await writeFile(join(options.export, MODEL_FILE), bytes);
        await writeFile(join(options.export, CHECKSUM_FILE), `${entry.sha256}\n`);
        await writeFile(join(options.export, METRICS_FILE), `${JSON.stringify(entry.metrics, null, 2)}\n`);
        process.stdout.write(`${registry.modelName} v${version} written to ${resolve(options.export)}\n`);
        return;
      }
      const known = await targetModels(target);
      const names = [...new Set([...known.models, ...(known.preferred ? [known.preferred] : [])])].sort();
      // One model's versions in detail: the one named, the stack's, or the only one; with several, the summary.
      const detailed =
        options.model !== undefined || known.preferred || names.length === 1
          ? await modelFor(target, options.model)
          : undefined;
      const models = await Promise.all(names.map((name) => modelSummary(target, name)));
      if (!detailed) {
        if (options.json) {
          process.stdout.write(`${printableJson({ models })}\n`);
          return;
        }
        if (models.length === 0) {
          process.stdout.write(
            `no models in ${target.where} yet: a model appears with its first run (textops upload <csv>)\n`,
          );
          return;
        }
        process.stdout.write(`${modelsTable(target, models)}\n`);
        process.stdout.write("one model's versions, lineage and gate: textops models --model <name>\n");
        return;
      }
      const registry = new ModelRegistry(target.store, detailed);
      const { aliases } = await registry.readAliases();
      const listed = await registry.listVersions();
      // Each artifact is read and hashed: a version whose model.json is gone or altered cannot serve, and
      // promote/rollback refuse it, so the listing says so rather than show it as usable.
      const problems = new Map<number, string>();
      for (let i = 0; i < listed.length; i += 4) {
        await Promise.all(
          listed.slice(i, i + 4).map(async (v) => {
            const problem = await registry.checkArtifact(v.version);
            if (problem) problems.set(v.version, problem);
          }),
        );
      }
      const versions = listed.map((v) => {
        const problem = problems.get(v.version);
        return { ...v, artifact: problem ? { ok: false, problem } : { ok: true } };
      });
      if (options.json) {
        process.stdout.write(`${printableJson({ models, model: registry.modelName, aliases, versions })}\n`);
        return;
      }
      if (models.length > 1) process.stdout.write(`${modelsTable(target, models)}\n\n`);
      // Registry entries carry upload keys and reasons: escaped before they reach the terminal.
      const shown = printableDeep({ aliases, versions });
      if (versions.length === 0) {
        process.stdout.write(`no versions of ${registry.modelName} in ${target.where} yet\n`);
        return;
      }
      const metric = (m: Record<string, unknown> | null, k: string) =>
        typeof m?.[k] === 'number' ? (m[k] as number).toFixed(4) : '—';
      const rows = shown.versions.map((v) => {
        const marks = [
          shown.aliases.production === v.version ? 'production' : '',
          shown.aliases.staging === v.version ? 'staging' : '',
        ].filter(Boolean);
        const source = v.lineage.source as { key?: string } | undefined;
        return [
          `v${v.version}`,
          v.stage?.stage ?? '-',
          marks.join(',') || '-',
          v.createdAt.replace('T', ' ').slice(0, 19),
          metric(v.metrics, 'accuracy'),
          metric(v.metrics, 'f1_macro'),
          v.gate ? (v.gate.passed ? (v.promotionHeld ? 'passed, held' : 'passed') : 'failed') : '-',
          v.artifact.ok ? 'ok' : 'BROKEN',
          source?.key ?? '-',
          v.runId ?? '-',
        ];
      });
      process.stdout.write(`${registry.modelName} in ${target.where}\n`);
      process.stdout.write(
        `${table(['VERSION', 'STAGE', 'ALIAS', 'CREATED (UTC)', 'ACCURACY', 'MACRO-F1', 'GATE', 'ARTIFACT', 'SOURCE', 'RUN'], rows)}\n`,
      );
      for (const v of shown.versions) {
        if (!v.artifact.ok) process.stdout.write(`v${v.version} is broken: ${v.artifact.problem}\n`);
        if (v.promotionHeld) process.stdout.write(`v${v.version} not promoted: ${v.promotionHeld.reason}\n`);
        const move = v.stage?.history.at(-1);
        if (
          move &&
          (['rejected', 'rolled-back', 'expired'].includes(move.to) ||
            (move.to === 'candidate' && move.from !== null))
        )
          process.stdout.write(`v${v.version} ${move.to} (${move.at}): ${move.reason}\n`);
      }
      const release = shown.aliases.release;
      if (release)
        process.stdout.write(
          `release in flight: v${release.version} as a ${release.strategy === 'canary' ? `canary answering ${release.percent} % of requests` : 'shadow'} beside production v${release.productionVersion} until ${release.bakeUntil} (run ${release.runId})\n`,
        );
      const last = shown.aliases.history.at(-1);
      if (last)
        process.stdout.write(
          `last alias move: ${last.alias} ${last.previous === null ? '—' : `v${last.previous}`} → v${last.version} (${last.kind}, ${last.at}): ${last.reason}\n`,
        );
    });
}

/** One line of `textops models`: a model, its production and staging versions, and every version it has. */
interface ModelSummary {
  name: string;
  production: number | null;
  staging: number | null;
  versions: number[];
}

async function modelSummary(target: PipelineTarget, name: string): Promise<ModelSummary> {
  const registry = new ModelRegistry(target.store, name);
  const [{ aliases }, versions] = await Promise.all([registry.readAliases(), registry.listVersions()]);
  return {
    name,
    production: aliases.production,
    staging: aliases.staging,
    versions: versions.map((v) => v.version),
  };
}

function modelsTable(target: PipelineTarget, models: ModelSummary[]): string {
  const v = (n: number | null) => (n === null ? '-' : `v${n}`);
  const rows = printableDeep(models).map((m) => [
    m.name,
    v(m.production),
    v(m.staging),
    m.versions.length ? m.versions.map((n) => `v${n}`).join(' ') : '-',
  ]);
  return `${models.length} model${models.length === 1 ? '' : 's'} in ${target.where}\n${table(['MODEL', 'PRODUCTION', 'STAGING', 'VERSIONS'], rows)}`;
}

/** A model card for the terminal: headings, paragraphs, aligned tables. */
function cardText(card: ModelCard): string {
  const out = [card.title, '='.repeat(card.title.length)];
  for (const s of card.sections) {
    out.push('', s.title, '-'.repeat(s.title.length));
    for (const p of s.paragraphs) out.push(s.title === 'Limitations' ? `- ${p}` : p);
    for (const t of s.tables)
      out.push(
        table(
          t.head.map((h) => h.toUpperCase()),
          t.rows,
        ),
      );
  }
  return out.join('\n');
}
