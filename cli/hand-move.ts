import { eventBridgeClient } from '../shared/aws/clients.ts';
import { EventBridgePublisher } from '../shared/aws/eventbridge-publisher.ts';
import { loadParams } from '../shared/config/params.ts';
import { readRuntimeSettings } from '../shared/config/runtime.ts';
import { EVENT_SOURCE, notifyHandMove } from '../shared/pipeline/run/notify.ts';

/**
 * Sends the event of a promotion or rollback made with the CLI, as the pipeline and the console send theirs:
 * to the webhook of params.yaml's `release.notifications`, and to the event bus when TEXTOPS_EVENT_BUS names one
 * (the caller then needs `events:PutEvents` on it). A delivery that fails is said on stderr; the move stands.
 */
export async function announceHandMove(move: {
  event: 'version.promoted' | 'version.rolled_back';
  model: string;
  version: number;
  previousVersion: number | null;
  reason: string;
}): Promise<void> {
  const settings = readRuntimeSettings();
  const warnings = await notifyHandMove(
    {
      baseParams: loadParams(),
      ...(settings.eventBus
        ? { events: new EventBridgePublisher(eventBridgeClient(settings), settings.eventBus, EVENT_SOURCE) }
        : {}),
    },
    { ...move, via: 'cli' },
  );
  for (const warning of warnings) process.stderr.write(`textops: warning: ${warning}\n`);
}
