import type { Command } from 'commander';
import { loadModelDirectory } from '../../shared/ml/model-directory.ts';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict the label of one or more texts with a saved model')
    .requiredOption('--model <dir>', 'model directory (as written by train)')
    .option('--json', 'print JSON')
    .argument('<text...>', 'text(s) to classify')
    .action(async (texts: string[], options: { model: string; json?: boolean }) => {
      const { model } = await loadModelDirectory(options.model);
      const predictions = texts.map((text) => model.predict(text));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(predictions.length === 1 ? predictions[0] : predictions)}\n`);
        return;
      }
      for (const p of predictions) {
        const scores = Object.entries(p.scores)
          .map(([label, score]) => `${label}=${score.toFixed(4)}`)
          .join(' ');
        process.stdout.write(`${p.label}\t${scores}\n`);
      }
    });
}
