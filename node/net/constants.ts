/** The network's tunables, with their units (SPEC §13, §14). */
const second = 1000;
const minute = 60 * second;

/** The one gossip topic of attestations, versioned with the protocol. */
export const ATTESTATION_TOPIC = '/chorus/attestations/1';
/** Checkpoint notes (with the cosignatures their sender holds), newest per issuer (SPEC §16.3). */
export const CHECKPOINT_TOPIC = '/chorus/checkpoints/1';
/** Equivocation proofs: a topic of their own, so a flood of checkpoints never delays one. */
export const EQUIVOCATION_TOPIC = '/chorus/equivocations/1';
/** Gossip messages larger than this are dropped (an envelope is at most 64 KiB). */
export const MAX_GOSSIP_MESSAGE = 70 * 1024;
/** Largest gossipsub RPC frame read from a peer (several messages and control messages). */
export const MAX_GOSSIP_FRAME = 1024 * 1024;
/** The protocol's envelope size limit (SPEC §8.3): a node may only tighten it. */
export const PROTOCOL_MAX_ENVELOPE = 64 * 1024;
/** A sync that fetches at most this many attestations relays them by gossip. */
export const RELAY_SYNCED_MAX = 1000;
/** Kademlia's k for the Chorus DHT (SPEC §13.3). */
export const DHT_K = 10;

/** Gossip messages one peer may deliver: a bucket of this many, refilled at this rate per second. */
export const GOSSIP_BURST = 1000;
export const GOSSIP_PER_SECOND = 200;
/** Gossip bytes one peer may deliver per second (the bucket holds ten seconds' worth). */
export const GOSSIP_BYTES_PER_SECOND = 1024 * 1024;

/** Score taken from a peer per abusive sync request; decays by half every 10 minutes. */
export const ABUSE_PENALTY = 10;
export const ABUSE_HALF_LIFE_MS = 10 * minute;
/** At this many abuses in a half-life a peer is disconnected and refused for BLOCK_MS. */
export const ABUSES_TO_BLOCK = 3;
export const BLOCK_MS = 10 * minute;

/** How often (and how soon after start) a node in relay mode "auto" checks whether it needs a relay. */
export const RELAY_CHECK_MS = minute;
/** A lookup asks at most this many holders, and remembers a fruitless digest this long. */
export const LOOKUP_HOLDERS = 3;
export const LOOKUP_NEGATIVE_MS = 10 * minute;
export const LOOKUP_CONCURRENCY = 4;

/**
 * Sync serving (SPEC §14.1): work units per minute per peer and for all peers together,
 * charged after each request for what it cost (1, plus 1 per range, part and id answered,
 * plus 1 per KiB of reply).
 */
export const PEER_UNITS_PER_MINUTE = 60_000;
export const ALL_UNITS_PER_MINUTE = 4 * PEER_UNITS_PER_MINUTE;
/** A request over budget waits this long at most, then is answered `busy`. */
export const MAX_BUDGET_WAIT_MS = 5 * second;
/** A reply aims at most this many range summaries (parts) in all. */
export const MAX_PARTS_PER_REPLY = 1024;
/** Answers yield to the event loop after this many ranges. */
export const RANGES_PER_SLICE = 64;

/** Sync as a client, whatever the server answers: ranges per request (the reply fits 1 MiB), and the bounds of one sync. */
export const CLIENT_RANGES_PER_REQUEST = 128;
export const MAX_PENDING_RANGES = 4096;
export const MAX_REQUESTS_PER_SYNC = 1000;
export const MAX_OFFERED_IDS = 200_000;
export const SYNC_DEADLINE_MS = 10 * minute;
