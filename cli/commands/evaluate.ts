import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readLabelledCsv } from '../../shared/ml/dataset.ts';
import { loadModelDirectory } from '../../shared/ml/model-directory.ts';
import { cleanDocuments, evaluateDocs } from '../../shared/ml/training.ts';
import { formatMetrics } from '../output.ts';

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description("metrics of a saved model on any labelled CSV (the model's own column settings)")
    .requiredOption('--model <dir>', 'model directory')
    .option('--json', 'print JSON')
    .argument('<csv>', 'labelled CSV file')
    .action(async (csv: string, options: { model: string; json?: boolean }) => {
      const { model } = await loadModelDirectory(options.model);
      const data = readLabelledCsv(await readFile(csv), model.params.data);
      const unknown = data.labels.filter((l) => !model.labels.includes(l));
      if (unknown.length > 0) {
        const { InvalidDatasetError } = await import('../../shared/errors.ts');
        throw new InvalidDatasetError(
          `labels ${unknown.map((l) => `'${l}'`).join(', ')} are not among the model's classes (${model.labels.join(', ')})`,
        );
      }
      const docs = await cleanDocuments(
        data.examples.map((e) => e.text),
        model.params,
      );
      const metrics = evaluateDocs(
        model,
        docs,
        data.examples.map((e) => e.label),
      );
      process.stdout.write(
        options.json ? `${JSON.stringify(metrics, null, 2)}\n` : `${formatMetrics(metrics)}\n`,
      );
    });
}
