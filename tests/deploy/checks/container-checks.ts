// The Dockerfile parsed (dockerfile-ast) into stages, and the checks a reviewer of a production image makes.
import { DockerfileParser } from 'dockerfile-ast';
import { type Finding, finding } from './finding.ts';

export interface DockerInstruction {
  keyword: string;
  /** Exec-form (JSON array) arguments parsed; shell form split as Docker does on whitespace. */
  args: string[];
  /** The arguments as written, for shell-form RUN and messages. */
  text: string;
  flags: Record<string, string | null>;
  line: number;
}
export interface DockerStage {
  name: string;
  /** The base after ARG substitution: an image reference or an earlier stage's name. */
  base: string;
  /** The base as written in the FROM line, before ARG substitution. */
  written: string;
  instructions: DockerInstruction[];
}

/** Parses a Dockerfile into its stages, with global ARG defaults substituted into each FROM. */
export function parseDockerfile(text: string): DockerStage[] {
  const dockerfile = DockerfileParser.parse(text);
  const globals = new Map<string, string>();
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (property) globals.set(property.getName(), property.getValue() ?? '');
  }
  const substitute = (value: string) =>
    value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a: string, b: string) => globals.get(a ?? b) ?? whole);
  const stages: DockerStage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    const raw = instruction.getArgumentsContent() ?? '';
    const flagged = instruction as unknown as {
      getFlags?: () => { getName(): string; getValue(): string | null }[];
    };
    const flags = Object.fromEntries((flagged.getFlags?.() ?? []).map((f) => [f.getName(), f.getValue()]));
    let args = instruction.getArguments().map((a) => a.getValue());
    const execForm = (s: string) => {
      try {
        const parsed = JSON.parse(s.trim()) as unknown;
        return Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')
          ? (parsed as string[])
          : undefined;
      } catch {
        return undefined;
      }
    };
    if (['CMD', 'ENTRYPOINT', 'RUN'].includes(keyword)) args = execForm(raw) ?? args;
    if (keyword === 'HEALTHCHECK' && args[0] === 'CMD') {
      const rest = raw.trim().replace(/^CMD\s+/, '');
      args = ['CMD', ...(execForm(rest) ?? ['/bin/sh', '-c', rest])];
    }
    const parsed: DockerInstruction = {
      keyword,
      args,
      text: raw,
      flags,
      line: instruction.getRange().start.line + 1,
    };
    if (keyword === 'FROM') {
      const name = args.length >= 3 && args[1].toUpperCase() === 'AS' ? args[2] : String(stages.length);
      stages.push({ name, base: substitute(args[0]), written: args[0], instructions: [] });
    } else if (stages.length > 0) stages[stages.length - 1].instructions.push(parsed);
  }
  return stages;
}

const finalStage = (stages: DockerStage[]) => stages[stages.length - 1];
const of = (stage: DockerStage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

/** Multi-stage, and the runtime stage starts from a clean base image, not from a stage with build tools. */
export function checkMultiStage(stages: DockerStage[]): Finding[] {
  if (stages.length < 2)
    return [finding('multi-stage', 'Dockerfile', 'a single stage ships the build tools')];
  const runtime = finalStage(stages);
  if (stages.some((s) => s !== runtime && s.name === runtime.base))
    return [
      finding('multi-stage', runtime.name, `runtime stage builds on stage '${runtime.base}' and inherits it`),
    ];
  return [];
}

/** The runtime runs as a numeric non-root user (Kubernetes can only verify runAsNonRoot for a number). */
export function checkNonRootUser(stages: DockerStage[]): Finding[] {
  const runtime = finalStage(stages);
  const user = of(runtime, 'USER').at(-1)?.args[0];
  if (!user) return [finding('non-root', runtime.name, 'no USER: the container runs as root')];
  const [name] = user.split(':');
  if (name === 'root' || name === '0') return [finding('non-root', runtime.name, `USER ${user} is root`)];
  if (!/^\d+$/.test(name))
    return [
      finding('non-root', runtime.name, `USER ${user} is a name; use a uid so runAsNonRoot can be verified`),
    ];
  return [];
}

/** A HEALTHCHECK with a command in the runtime stage. */
export function checkHealthcheck(stages: DockerStage[]): Finding[] {
  const runtime = finalStage(stages);
  const check = of(runtime, 'HEALTHCHECK').at(-1);
  if (check?.args[0] !== 'CMD' || check.args.length < 2)
    return [finding('healthcheck', runtime.name, 'no HEALTHCHECK CMD in the runtime stage')];
  return [];
}

/**
 * Only production files in the runtime stage: it installs nothing, and copies from the build context only the
 * files named in `allowedFromContext` (everything else comes as the built bundle from an earlier stage).
 */
export function checkProductionFilesOnly(stages: DockerStage[], allowedFromContext: string[]): Finding[] {
  const runtime = finalStage(stages);
  const out: Finding[] = [];
  for (const copy of [...of(runtime, 'COPY'), ...of(runtime, 'ADD')]) {
    const sources = copy.args.slice(0, -1);
    if (copy.flags.from) {
      if (!stages.some((s) => s.name === copy.flags.from))
        out.push(
          finding(
            'production-files',
            `line ${copy.line}`,
            `copies from '${copy.flags.from}', not a build stage`,
          ),
        );
      else if (sources.some((s) => /node_modules|\/src\/?$/.test(s)))
        out.push(
          finding('production-files', `line ${copy.line}`, `copies build inputs (${sources.join(' ')})`),
        );
      continue;
    }
    for (const source of sources)
      if (!allowedFromContext.includes(source.replace(/^\.\//, '')))
        out.push(
          finding('production-files', `line ${copy.line}`, `copies '${source}' from the build context`),
        );
  }
  for (const run of of(runtime, 'RUN'))
    if (/\b(npm|yarn|pnpm)\b/.test(run.text))
      out.push(
        finding(
          'production-files',
          `line ${run.line}`,
          `installs packages in the runtime stage: ${run.text}`,
        ),
      );
  return out;
}

/**
 * Every base image is pinned by digest, with its tag beside it (`node:22-bookworm-slim@sha256:<64 hex>`): the
 * digest makes a rebuild reproducible, the tag is what Dependabot follows to propose a newer digest. Written
 * out in the FROM line: Dependabot does not substitute ARG defaults, so an image behind an ARG is never updated.
 */
export function checkBaseImagesPinned(stages: DockerStage[]): Finding[] {
  const names = new Set(stages.map((s) => s.name));
  const out: Finding[] = [];
  for (const stage of stages.filter((s) => !names.has(s.base))) {
    if (!/^[^\s@]+:[\w][\w.-]*@sha256:[0-9a-f]{64}$/.test(stage.base) || stage.base.includes(':latest@'))
      out.push(
        finding(
          'pinned-base',
          stage.name,
          `base image '${stage.base}' is not pinned as <image>:<tag>@sha256:<digest>`,
        ),
      );
    else if (stage.written.includes('$'))
      out.push(
        finding(
          'pinned-base',
          stage.name,
          `base image comes from an ARG ('${stage.written}'); Dependabot only updates images written in FROM`,
        ),
      );
  }
  return out;
}

export function checkDockerfile(stages: DockerStage[], allowedFromContext: string[]): Finding[] {
  return [
    ...checkMultiStage(stages),
    ...checkNonRootUser(stages),
    ...checkHealthcheck(stages),
    ...checkProductionFilesOnly(stages, allowedFromContext),
    ...checkBaseImagesPinned(stages),
  ];
}
