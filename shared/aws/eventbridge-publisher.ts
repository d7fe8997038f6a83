import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventPublisher } from '../ports.ts';

/**
 * Release events on an EventBridge bus: one PutEvents entry each, `Source` the product, `DetailType` the event's
 * name (`version.promoted`), `Detail` its body (docs/guides/release.md#notifications). PutEvents answers 200
 * even when it refuses an entry, with the refusal in the entry's ErrorCode: that is thrown, as is an entry
 * over EventBridge's 256 KB limit, which it would refuse the same way.
 */
export class EventBridgePublisher implements EventPublisher {
  readonly description: string;

  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBus: string,
    private readonly source: string,
  ) {
    this.description = `EventBridge bus ${eventBus}`;
  }

  async publish(detailType: string, detail: object): Promise<void> {
    const { FailedEntryCount, Entries } = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.eventBus,
            Source: this.source,
            DetailType: detailType,
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    );
    const entry = Entries?.[0];
    if (FailedEntryCount || entry?.ErrorCode)
      throw new Error(
        `PutEvents refused the entry: ${entry?.ErrorCode ?? 'error'} ${entry?.ErrorMessage ?? ''}`.trim(),
      );
  }
}
