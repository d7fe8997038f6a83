// Names the deployed model in params.yaml before a deploy: `npx tsx scripts/deploy/name-model.ts [--name <name>]`.
// The shipped file leaves model.name null (each local run is named after its label column), but a deployment's
// roles are scoped to registry/<name>/ and feedback/<name>/, so the stack and the image must be built from a file
// that names one. The deploy workflow passes the repository variable TEXTOPS_MODEL_NAME.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isScalar, parseDocument } from 'yaml';
import { deployedModelName } from '../../infra/bucket-access.ts';
import { parseParamsYaml, validateParams } from '../../shared/config/params.ts';
import { MODEL_NAME } from '../../shared/config/params-schema.ts';
import { ConfigError } from '../../shared/errors.ts';

/**
 * `text` (a params.yaml) with model.name set to `name`, comments and layout kept; without `name`, the text as it is
 * once checked to name a model. Throws a ConfigError naming the fix when no name is given and none is set.
 */
export function nameModel(text: string, name: string | undefined, file = 'params.yaml'): string {
  let named = text;
  if (name !== undefined && name !== '') {
    if (!MODEL_NAME.test(name))
      throw new ConfigError(
        `'${name}' is not a model name: lowercase letters, digits, - and _ (starting with a letter or digit, at most 63)`,
      );
    // Only the value's characters change: the file keeps its comments and layout.
    const node = parseDocument(text).getIn(['model', 'name'], true);
    if (!isScalar(node) || !node.range) throw new ConfigError(`${file}: no model.name to set`);
    named = text.slice(0, node.range[0]) + name + text.slice(node.range[1]);
  }
  try {
    deployedModelName(validateParams(parseParamsYaml(named, file), file), file);
  } catch (error) {
    if (error instanceof ConfigError && name === undefined)
      throw new ConfigError(
        `${error.message}; or pass --name (the deploy workflow: repository variable TEXTOPS_MODEL_NAME)`,
      );
    throw error;
  }
  return named;
}

function main(): void {
  const { values } = parseArgs({
    options: { name: { type: 'string' }, file: { type: 'string', default: 'params.yaml' } },
  });
  const file = values.file ?? 'params.yaml';
  try {
    const text = readFileSync(file, 'utf8');
    const named = nameModel(text, values.name || undefined, file);
    if (named !== text) writeFileSync(file, named);
    const name = /^ {2}name: *(\S+)/m.exec(named)?.[1];
    process.stdout.write(`${file}: deploying model ${name ?? '(see model.name)'}\n`);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
