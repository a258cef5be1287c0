import { ChorusError, isChorusError } from '../../src/errors.js';
import type { Readable } from 'node:stream';
import { importLines } from '../ingest/import-lines.js';
import type { LocalNode } from '../local/local-node.js';
import { NodeService } from '../service/node-service.js';
import type { NodeClient } from './node-client.js';
import { join } from 'node:path';
import { OwnLog } from '../tlog/own-log.js';

const notRunning = (): ChorusError => new ChorusError('unavailable', 'no node is running: the network lives in the node; start it with chorus start');

/** The node's data dir opened in this process (no daemon running): the same service the API calls. */
export function localClient(node: LocalNode): NodeClient {
  const service = new NodeService(node);
  return {
    mode: 'local',
    view: (digest, opts) => service.view(digest, { without: opts?.without, lookup: false }),
    publish: (envelope) => service.publish(envelope),
    importLines: (stream: Readable, opts) => importLines(node.ingestor, stream, {
      maxEnvelopeBytes: node.limits.maxEnvelopeBytes,
      show: opts.show,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    }),
    async get(id) {
      try {
        return await service.detail(id);
      } catch (e) {
        if (isChorusError(e, 'not_found')) return undefined;
        throw e;
      }
    },
    list: (by, q) => service.list(by, q),
    trust: () => service.trust(),
    setTrust: (issuers) => service.setTrust({ issuers }),
    editTrust: (edit) => service.editTrust(edit),
    issuer: (did) => service.issuer(did),
    trustGraph: () => service.trustGraph(),
    status: () => service.status({ withHome: true }),
    check: (digest) => service.check(digest),
    approved: () => service.approved(),
    // No daemon: the log is opened here (its backfill and a first checkpoint included) and closed again.
    async logCheckpoint(did) {
      if (did !== undefined && did !== node.identity.did) throw notRunning();
      const log = await OwnLog.open(join(node.home.root, 'log'), node.identity, node.store);
      try {
        return await log.checkpoint();
      } finally {
        await log.close();
      }
    },
    async logProof(id, did) {
      if (did !== undefined && did !== node.identity.did) throw notRunning();
      const log = await OwnLog.open(join(node.home.root, 'log'), node.identity, node.store);
      try {
        const checkpoint = await log.checkpoint();
        return { ...(await log.inclusion(id)), checkpoint };
      } finally {
        await log.close();
      }
    },
    // Mirrored logs live in the running node (it holds their store open).
    logVerify: () => Promise.reject(notRunning()),
    peers: () => Promise.reject(notRunning()),
    connect: () => Promise.reject(notRunning()),
    close: () => node.close(),
  };
}
