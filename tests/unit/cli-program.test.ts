import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/program.ts';

const names = async (argv?: string[]) => (await buildProgram(argv)).commands.map((command) => command.name());

describe('textops program', () => {
  it('registers every command for the help and the reference page', async () => {
    const all = await names();
    expect(all).toEqual(expect.arrayContaining(['train', 'predict', 'upload', 'runs', 'approve', 'reject']));
    expect(await names(['node', 'textops'])).toEqual(all);
    expect(await names(['node', 'textops', '--help'])).toEqual(all);
  });

  it('loads only the command a run names', async () => {
    expect(await names(['node', 'textops', 'runs', 'retry', 'run-1'])).toEqual(['runs']);
    expect(await names(['node', 'textops', 'help', 'predict'])).toEqual(['predict']);
    expect(await names(['node', 'textops', 'reject', 'run-1', '--reason', 'too slow'])).toEqual([
      'approve',
      'reject',
    ]);
    expect(await names(['node', 'textops', '--version'])).toEqual([]);
  });

  it('registers every command when the one named is unknown, so commander can suggest one', async () => {
    expect(await names(['node', 'textops', 'predct'])).toEqual(await names());
  });
});
