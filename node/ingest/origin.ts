/**
 * Where an input came from, passed through the ingest path with it: limits that apply to
 * peers (new issuers per hour) need the peer, and the network must not re-publish what it
 * received by gossip.
 */
export type Origin =
  | { readonly via: 'local' }
  | { readonly via: 'gossip' | 'sync' | 'lookup'; readonly peer: string };

export const LOCAL: Origin = { via: 'local' };
