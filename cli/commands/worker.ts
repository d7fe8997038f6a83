import type { Command } from 'commander';
import { handler as trigger } from '../../functions/trigger/handler.ts';
import { sqsClient } from '../../shared/aws/clients.ts';
import { runSqsConsumer } from '../../shared/aws/sqs-consumer.ts';
import { getStringFromEnv } from '../../shared/config/env.ts';
import { readRuntimeSettings } from '../../shared/config/runtime.ts';
import { jsonLogger } from '../../shared/log.ts';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'consume the train-requests SQS queue (long poll) and start pipeline runs: the EKS trigger path',
    )
    .option('--queue-url <url>', 'queue URL (default: TEXTOPS_QUEUE_URL)')
    .option('--wait <seconds>', 'long-poll wait', '20')
    .action(async (options: { queueUrl?: string; wait: string }) => {
      const settings = readRuntimeSettings();
      const queueUrl = options.queueUrl ?? settings.queueUrl ?? getStringFromEnv('TEXTOPS_QUEUE_URL');
      // stdout, like the trigger Lambda whose handler it runs: a pod's `kubectl logs` shows the same lines.
      const log = jsonLogger({ stream: 'stdout' });
      const controller = new AbortController();
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort());
      log.info('worker started', { queueUrl });
      await runSqsConsumer(
        sqsClient(settings),
        {
          queueUrl,
          waitTimeSeconds: Number(options.wait),
          // The trigger Lambda's handler itself: the same parsing, naming and partial-failure logic.
          handle: async (event, context) => (await trigger(event, context)) ?? { batchItemFailures: [] },
          log,
        },
        controller.signal,
      );
      log.info('worker stopped');
    });
}
