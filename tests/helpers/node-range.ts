/**
 * Whether a Node version satisfies an `engines.node` range, for the forms package.json files use: `>=20.19.0`,
 * `^20.17.0`, `~20.1`, `20` (that major), `>=18 <21`, alternatives joined by `||`. An unknown form throws, so a
 * test never passes by misreading a range.
 */
export function satisfiesNode(version: string, range: string): boolean {
  const v = parseVersion(version);
  // `>= 20` is `>=20`.
  return range
    .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
    .split('||')
    .some((set) =>
      set
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .every((comparator) => matches(v, comparator)),
    );
}

type Version = [number, number, number];

function parseVersion(text: string): Version {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`not a version: ${text}`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

function matches(v: Version, comparator: string): boolean {
  if (comparator === '*' || comparator === 'x') return true;
  const m = /^(>=|<=|>|<|=|\^|~)?v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?$/.exec(comparator);
  if (!m) throw new Error(`an engines range this helper does not read: '${comparator}'`);
  const [, op = '', major, minor, patch] = m;
  const bound: Version = [Number(major), Number(minor ?? 0) || 0, Number(patch ?? 0) || 0];
  const c = compare(v, bound);
  switch (op) {
    case '>=':
      return c >= 0;
    case '>':
      return c > 0;
    case '<=':
      return c <= 0;
    case '<':
      return c < 0;
    case '^':
      return c >= 0 && v[0] === bound[0];
    case '~':
      return c >= 0 && v[0] === bound[0] && v[1] === bound[1];
    default:
      // `20`, `20.x`, `=20.1.2`: the parts given must match.
      if (minor === undefined || minor === 'x' || minor === '*') return v[0] === bound[0];
      if (patch === undefined || patch === 'x' || patch === '*')
        return v[0] === bound[0] && v[1] === bound[1];
      return c === 0;
  }
}
