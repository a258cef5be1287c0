import type { Readable } from 'node:stream';
import { ChorusError } from '../../src/errors.js';
import { publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { summarize } from '../api/context.js';
import { loadTrust, writeTrust } from '../home/trust-list.js';
import { importLines } from '../ingest/import-lines.js';
import type { LocalNode } from '../local/local-node.js';
import { VERSION } from '../version.js';
import type { NodeClient } from './node-client.js';

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
      const before = new Map((await loadTrust(node.home.trust)).issuers.map((e) => [e.issuer, e]));
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      for (const e of issuers) if (publicKeyFromDidKey(e.issuer) === undefined) throw new ChorusError('bad_input', `not an Ed25519 did:key: "${e.issuer.slice(0, 100)}"`);
      await writeTrust(node.home.trust, {
        issuers: issuers.map((e) => {
          const note = e.note ?? before.get(e.issuer)?.note;
          return { issuer: e.issuer, ...(note === undefined ? {} : { note }), addedAt: before.get(e.issuer)?.addedAt ?? now };
        }),
      });
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
      };
    },
    close: () => node.close(),
  };
}
