import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Logger } from 'pino';
import type { Decision } from '../../src/ingest/decide.js';
import type { Ingestor, Origin } from '../ingest/ingestor.js';
import { ATTESTATION_TOPIC, GOSSIP_BURST, GOSSIP_BYTES_PER_SECOND, GOSSIP_PER_SECOND, MAX_GOSSIP_MESSAGE, PROTOCOL_MAX_ENVELOPE } from './constants.js';
import type { Pubsub } from './host.js';
import { PeerRate } from './peer-penalties.js';

export { attestationMessageId } from './message-id.js';

/**
 * Gossip of attestations: every message a peer delivers runs through the one ingest path
 * (with the peer as its origin) before it is forwarded; what this node accepts from
 * elsewhere (API, CLI, import, a small sync) is published.
 */
export class Gossip {
  private readonly rate = new PeerRate(GOSSIP_BURST, GOSSIP_PER_SECOND, GOSSIP_BYTES_PER_SECOND);

  constructor(
    private readonly pubsub: Pubsub,
    private readonly ingestor: Ingestor,
    private readonly log: Logger,
    /** Told of every message validated: the gossipsub result, the ingest code, its size, the peer. */
    private readonly observe: (result: 'accept' | 'ignore' | 'reject', code: string, bytes: number, peer: string) => void = () => {},
  ) {}

  /** Installs the validator (before the host starts, so no message arrives unchecked). */
  register(): void {
    this.pubsub.topicValidators.set(ATTESTATION_TOPIC, async (from, msg) => {
      const peer = from.toString();
      const bytes = msg.data.byteLength;
      const out = (result: 'accept' | 'ignore' | 'reject', code: string): TopicValidatorResult => {
        this.observe(result, code, bytes, peer);
        return result === 'accept' ? TopicValidatorResult.Accept : result === 'ignore' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
      };
      try {
        if (bytes > MAX_GOSSIP_MESSAGE) return out('reject', 'too_large');
        // Over its rate a peer's messages are dropped unforwarded, not blamed: it may be relaying.
        if (!this.rate.take(peer, bytes)) return out('ignore', 'rate_limited');
        const d = await this.ingestor.ingest(msg.data, { via: 'gossip', peer });
        if (d.outcome === 'accept') return out('accept', d.code);
        // Over this node's tightened size limit but within the protocol's: the relay is honest.
        if (d.code === 'too_large' && bytes <= PROTOCOL_MAX_ENVELOPE) return out('ignore', d.code);
        return out(d.outcome === 'ignore' ? 'ignore' : 'reject', d.code);
      } catch (e) {
        // Whatever went wrong fails this message only.
        this.log.debug({ err: e, peer }, 'gossip validation failed');
        return out('reject', 'internal');
      }
    });
  }

  /** Joins the topic (once the host runs). */
  subscribe(): void {
    this.pubsub.subscribe(ATTESTATION_TOPIC);
  }

  /** Publishes what this node accepted that is not already on its way through gossip. */
  onCommitted(ds: readonly Decision[], origins: readonly Origin[]): void {
    ds.forEach((d, i) => {
      if (d.outcome !== 'accept') return;
      const o = origins[i];
      if (o !== undefined && o.via !== 'local' && !(o.via === 'sync' && o.relay === true)) return;
      this.publish(new TextDecoder().decode(d.attestation.envelopeBytes)).catch((e: unknown) => this.log.warn({ err: e, id: d.id }, 'gossip publish failed'));
    });
  }

  /** Publishes an attestation to the network; resolves to the number of peers it went to. */
  async publish(envelopeJson: string): Promise<number> {
    const r = await this.pubsub.publish(ATTESTATION_TOPIC, new TextEncoder().encode(envelopeJson));
    return r.recipients.length;
  }
}
