import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { satisfiesNode } from '../helpers/node-range.ts';

// The Node version textops asks for is one place's fact in three: package.json `engines`, the README's
// requirements, and what the installed packages accept. A package that refuses the lowest supported Node makes
// `npm install` warn EBADENGINE there; each such package is named in the README with why textops runs on it anyway.

const ROOT = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', ROOT), 'utf8')) as {
  packages: Record<string, { engines?: unknown; version?: string }>;
};
const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
const requirements = readme.slice(
  readme.indexOf('## Requirements'),
  readme.indexOf('\n## ', readme.indexOf('## Requirements') + 1),
);

/** The lowest version `engines.node` allows: it must be a plain `>=X[.Y[.Z]]`. */
function lowest(range: string): string {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (!m) throw new Error(`package.json engines.node should read '>=X.Y.Z', not '${range}'`);
  return `${m[1]}.${m[2] ?? 0}.${m[3] ?? 0}`;
}

/** Installed packages whose `engines.node` refuses `version`, by name. */
function refusing(version: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    const node = (entry.engines as { node?: unknown } | undefined)?.node;
    if (path === '' || typeof node !== 'string') continue;
    if (!satisfiesNode(version, node)) out.set(path.slice(path.lastIndexOf('node_modules/') + 13), node);
  }
  return out;
}

describe('the supported Node version', () => {
  const minimum = lowest(pkg.engines.node);
  const [major, minor] = minimum.split('.');

  it('README states the version package.json engines allows', () => {
    expect(requirements).toMatch(new RegExp(`- Node ${major}\\.${minor} or later`));
  });

  it('is met by the Node that runs these tests (the machines the project is built and tested on)', () => {
    expect(satisfiesNode(process.versions.node, pkg.engines.node)).toBe(true);
  });

  it('every installed package that refuses it is named in the README, with why textops runs on it', () => {
    const refused = refusing(minimum);
    for (const [name, range] of refused) {
      expect(requirements, `${name} asks for Node ${range}`).toContain(`\`${name}\``);
    }
    // The one known today: the local stack's state machine engine, whose only release asks Node 22 for
    // Promise.withResolvers, which local/polyfills.ts supplies.
    expect([...refused.keys()]).toEqual(['aws-local-stepfunctions']);
    expect(requirements).toContain('local/polyfills.ts');
  });

  it('reads engines ranges as npm does, for the forms the lockfile holds', () => {
    expect(satisfiesNode('20.19.0', '^20.19.0 || ^22.13.0 || >=24')).toBe(true);
    expect(satisfiesNode('20.18.1', '^20.19.0 || ^22.13.0 || >=24')).toBe(false);
    expect(satisfiesNode('23.0.0', '^20.19.0 || ^22.13.0 || >=24')).toBe(false);
    expect(satisfiesNode('20.20.2', '>= 20.16.0')).toBe(true);
    expect(satisfiesNode('20.20.2', '>=22.0.0')).toBe(false);
    expect(satisfiesNode('20.0.0', '18 || 20 || >=22')).toBe(true);
    expect(satisfiesNode('21.0.0', '18 || 20 || >=22')).toBe(false);
    expect(satisfiesNode('20.0.0', '*')).toBe(true);
    expect(() => satisfiesNode('20.0.0', 'latest')).toThrow(/does not read/);
  });
});
