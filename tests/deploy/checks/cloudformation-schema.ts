// Every resource of a template checked against the CloudFormation resource schemas (the registry schemas as
// published in @aws-cdk/aws-service-spec): known type, known property names, required properties present, and
// the right shape (object, list, scalar) at every level. What `aws cloudformation validate-template` would not
// even catch offline — a misspelt property is otherwise found only by a failed deploy.
import type { PropertyType, ResourceProperties, SpecDatabase } from '@aws-cdk/service-spec-types';
import type { Template } from './cloudformation-checks.ts';
import { type Finding, finding } from './finding.ts';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `{Ref}`, `{Fn::…}`, `{Condition}`: resolved at deploy time, so any shape is accepted here. */
function isIntrinsic(value: unknown): boolean {
  if (!isObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Condition' || keys[0].startsWith('Fn::'));
}

function checkValue(
  db: SpecDatabase,
  value: unknown,
  type: PropertyType,
  path: string,
  out: Finding[],
): void {
  if (isIntrinsic(value)) return;
  switch (type.type) {
    case 'json':
    case 'null':
      return;
    case 'string':
    case 'number':
    case 'integer':
    case 'boolean':
    case 'date-time':
      if (typeof value === 'object' && value !== null)
        out.push(
          finding(
            'resource-schema',
            path,
            `expected a ${type.type}, got ${Array.isArray(value) ? 'a list' : 'an object'}`,
          ),
        );
      return;
    case 'tag':
      if (!isObject(value) || !('Key' in value) || !('Value' in value))
        out.push(finding('resource-schema', path, 'expected a tag {Key, Value}'));
      return;
    case 'array':
      if (!Array.isArray(value)) out.push(finding('resource-schema', path, 'expected a list'));
      else for (const [i, item] of value.entries()) checkValue(db, item, type.element, `${path}[${i}]`, out);
      return;
    case 'map':
      if (!isObject(value)) out.push(finding('resource-schema', path, 'expected a map'));
      else
        for (const [key, item] of Object.entries(value))
          checkValue(db, item, type.element, `${path}.${key}`, out);
      return;
    case 'union': {
      const attempts = type.types.map((t) => {
        const found: Finding[] = [];
        checkValue(db, value, t, path, found);
        return found;
      });
      if (!attempts.some((a) => a.length === 0)) out.push(...attempts.sort((a, b) => a.length - b.length)[0]);
      return;
    }
    case 'ref': {
      if (!isObject(value)) {
        out.push(finding('resource-schema', path, 'expected an object'));
        return;
      }
      checkProperties(db, value, db.get('typeDefinition', type.reference).properties, path, out);
      return;
    }
  }
}

function checkProperties(
  db: SpecDatabase,
  value: Record<string, unknown>,
  properties: ResourceProperties,
  path: string,
  out: Finding[],
): void {
  for (const [name, item] of Object.entries(value)) {
    const property = properties[name];
    if (!property) out.push(finding('resource-schema', `${path}.${name}`, 'unknown property'));
    else checkValue(db, item, property.type, `${path}.${name}`, out);
  }
  for (const [name, property] of Object.entries(properties))
    if (property.required && !(name in value))
      out.push(finding('resource-schema', `${path}.${name}`, 'required property is missing'));
}

export function checkResourceSchemas(template: Template, db: SpecDatabase): Finding[] {
  const out: Finding[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const [spec] = db.lookup('resource', 'cloudFormationType', 'equals', resource.Type);
    if (!spec) {
      out.push(finding('resource-schema', id, `unknown resource type ${resource.Type}`));
      continue;
    }
    checkProperties(db, resource.Properties ?? {}, spec.properties, id, out);
  }
  return out;
}
