/**
 * Where an input came from, passed through the ingest path with it: limits that apply to
 * peers (new issuers per hour) need the peer, and the network must not re-publish what it
 * received by gossip.
 */
export type Origin =
  | { readonly via: 'local' }
  | { readonly via: 'gossip' | 'lookup'; readonly peer: string }
  /** relay: a small catch-up (a healed partition) is passed on by gossip; a large one is not. */
  | { readonly via: 'sync'; readonly peer: string; readonly relay?: boolean };

export const LOCAL: Origin = { via: 'local' };
