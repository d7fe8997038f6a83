import { getOptionalStringFromEnv } from './env.ts';

declare const __TEXTOPS_VERSION__: string | undefined;

/**
 * The code version recorded in every model's lineage: TEXTOPS_CODE_VERSION (CI sets it to the commit), else
 * the version the bundle was built with, else the package version.
 */
export function codeVersion(): string {
  const built = typeof __TEXTOPS_VERSION__ === 'string' ? __TEXTOPS_VERSION__ : undefined;
  return getOptionalStringFromEnv('TEXTOPS_CODE_VERSION') ?? built ?? '0.1.0-dev';
}
