import type { Libp2p, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { LOG_PROTOCOL } from '../../node/net/log-sync.js';
import { SYNC_PROTOCOL } from '../../node/net/sync.js';

/**
 * A hand-made peer on a bare libp2p host that speaks the log and sync protocols from what
 * the test gives it: per issuer a checkpoint note and its leaf ids, and envelopes by id.
 * The test decides what it withholds or lies about (a withholding peer, a split-view
 * issuer's half, a peer whose leaves do not match its checkpoint).
 */
export interface LogPeerContent {
  notes: Map<string, string>;
  leaves: Map<string, string[]>;
  envelopes: Map<string, string>;
}

async function serveOne(stream: Stream, answer: (req: Record<string, unknown>) => unknown): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 });
  try {
    const raw = await lp.read();
    const req = JSON.parse(new TextDecoder().decode(raw.subarray())) as Record<string, unknown>;
    await lp.write(new TextEncoder().encode(JSON.stringify(answer(req))));
    await stream.close();
  } catch (e) {
    stream.abort(e as Error);
  }
}

export async function serveLogPeer(host: Libp2p, content: LogPeerContent): Promise<void> {
  await host.handle(LOG_PROTOCOL, (stream) => serveOne(stream, (req) => {
    switch (req['type']) {
      case 'checkpoints':
        return { notes: (req['issuers'] as string[]).flatMap((d) => (content.notes.has(d) ? [content.notes.get(d)!] : [])) };
      case 'leaves':
        return { ids: (content.leaves.get(req['issuer'] as string) ?? []).slice(req['start'] as number, req['end'] as number) };
      case 'equivocations':
        return { proofs: [] };
      default:
        return { error: 'not served' };
    }
  }), { runOnLimitedConnection: true });
  await host.handle(SYNC_PROTOCOL, (stream) => serveOne(stream, (req) => {
    if (req['type'] === 'fetch') return { envelopes: (req['ids'] as string[]).flatMap((id) => (content.envelopes.has(id) ? [content.envelopes.get(id)!] : [])) };
    // Reconcile: "nothing differs" (this peer offers only what the log protocol asks for).
    if (req['type'] === 'reconcile') return { ranges: [] };
    return { envelopes: [] };
  }), { runOnLimitedConnection: true });
}
