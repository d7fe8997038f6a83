import type { Command } from 'commander';
import { announceHandMove } from '../hand-move.ts';
import { MODEL_HELP, registryFor, resolveTarget, TARGET_HELP } from '../pipeline-target.ts';

export function registerRollback(program: Command): void {
  program
    .command('rollback')
    .description('move production back to the version that served before the current one')
    .option('--reason <text>', 'why, recorded in the alias history', 'rollback by hand')
    .option('--model <name>', MODEL_HELP)
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .action(async (options: { reason: string; model?: string; bucket?: string; runtimeDir?: string }) => {
      const registry = await registryFor(await resolveTarget(options), options.model);
      const before = (await registry.readAliases()).aliases.production;
      const after = await registry.rollback(options.reason);
      process.stdout.write(
        `${registry.modelName} production: v${before} → v${after.production} (rolled back)\n`,
      );
      if (after.production !== null)
        await announceHandMove({
          event: 'version.rolled_back',
          model: registry.modelName,
          version: after.production,
          previousVersion: before,
          reason: options.reason,
        });
    });
}
