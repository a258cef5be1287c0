import { ChorusError, isChorusError } from '../../src/errors.js';
import type { Readable } from 'node:stream';
import { importLines } from '../ingest/import-lines.js';
import type { LocalNode } from '../local/local-node.js';
import { NodeService } from '../service/node-service.js';
import type { NodeClient } from './node-client.js';

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
    peers: () => Promise.reject(notRunning()),
    connect: () => Promise.reject(notRunning()),
    close: () => node.close(),
  };
}
