import type { Command } from 'commander';
import { ConfigError } from '../../shared/errors.ts';
import { announceHandMove } from '../hand-move.ts';
import { MODEL_HELP, registryFor, resolveTarget, TARGET_HELP } from '../pipeline-target.ts';

export function registerPromote(program: Command): void {
  program
    .command('promote')
    .description('point the production (or staging) alias at a registered version')
    .argument('<version>', 'version number (as listed by textops models)')
    .option('--alias <alias>', 'production or staging', 'production')
    .option('--reason <text>', 'why, recorded in the alias history', 'promoted by hand')
    .option('--model <name>', MODEL_HELP)
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .action(
      async (
        versionText: string,
        options: { alias: string; reason: string; model?: string; bucket?: string; runtimeDir?: string },
      ) => {
        const version = Number(versionText.replace(/^v/, ''));
        if (!Number.isInteger(version) || version < 1)
          throw new ConfigError(`'${versionText}' is not a version number`);
        if (options.alias !== 'production' && options.alias !== 'staging') {
          throw new ConfigError(`--alias must be production or staging, not '${options.alias}'`);
        }
        const registry = await registryFor(await resolveTarget(options), options.model);
        const before = (await registry.readAliases()).aliases[options.alias];
        await registry.setAlias(options.alias, version, options.reason);
        process.stdout.write(
          before === version
            ? `${registry.modelName} ${options.alias} is already v${version}\n`
            : `${registry.modelName} ${options.alias}: ${before === null ? '—' : `v${before}`} → v${version}\n`,
        );
        if (options.alias === 'production' && before !== version)
          await announceHandMove({
            event: 'version.promoted',
            model: registry.modelName,
            version,
            previousVersion: before,
            reason: options.reason,
          });
      },
    );
}
