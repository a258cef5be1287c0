import { ChorusError } from '../../src/errors.js';
import type { Readable } from 'node:stream';
import { summarize } from '../api/context.js';
import { loadTrust, replaceTrust } from '../home/trust-list.js';
import { importLines } from '../ingest/import-lines.js';
import type { LocalNode } from '../local/local-node.js';
import { VERSION } from '../version.js';
import type { NodeClient } from './node-client.js';

const notRunning = (): ChorusError => new ChorusError('unavailable', 'no node is running: the network lives in the node; start it with chorus start');

/** The node's data dir opened in this process (no daemon running). */
export function localClient(node: LocalNode): NodeClient {
  const trustView = async () => ({
    self: node.config.trust.includeSelf ? node.identity.did : null,
    issuers: (await loadTrust(node.home.trust)).issuers,
  });
  return {
    mode: 'local',
    view: (digest) => node.view(digest),
    async publish(envelope) {
      const d = await node.ingestor.ingest(JSON.stringify(envelope));
      return d.outcome === 'accept'
        ? { outcome: d.outcome, code: d.code, id: d.id }
        : { outcome: d.outcome, code: d.code, message: d.message, ...(d.id ? { id: d.id } : {}) };
    },
    importLines: (stream: Readable, opts) => importLines(node.ingestor, stream, {
      maxEnvelopeBytes: node.limits.maxEnvelopeBytes,
      show: opts.show,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    }),
    async get(id) {
      const a = await node.store.get(id);
      if (!a) return undefined;
      return { ...summarize(a), statement: a.statement as unknown as Record<string, unknown>, retractedBy: await node.store.retractionsOf(id) };
    },
    async list(by, q) {
      const page = by.subject !== undefined ? await node.store.bySubject(by.subject, q) : by.issuer !== undefined ? await node.store.byIssuer(by.issuer, q) : await node.store.bySeq(q);
      return { items: page.items.map(summarize), next: page.next ?? null };
    },
    trust: trustView,
    async setTrust(issuers) {
      await replaceTrust(node.home.trust, issuers, new Date());
      node.trustChanged();
      return trustView();
    },
    async status() {
      return {
        version: VERSION,
        did: node.identity.did,
        home: node.home.root,
        uptimeSeconds: 0,
        attestations: node.store.size,
        lastSeq: node.store.lastSeq,
        storeBytes: await node.store.diskBytes(),
        trustedIssuers: (await node.trustPolicy()).trusted.size,
        api: { url: '(no node running)', requireTokenForReads: node.config.api.requireTokenForReads },
        network: null,
      };
    },
    peers: () => Promise.reject(notRunning()),
    connect: () => Promise.reject(notRunning()),
    close: () => node.close(),
  };
}
