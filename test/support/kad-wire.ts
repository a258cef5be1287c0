/**
 * ADD_PROVIDER messages of the Kademlia DHT wire format (libp2p kad-dht's dht.proto),
 * encoded by hand: kad-dht exports no codec, and an attacker writes raw messages anyway.
 * Message { type = 1 (enum, ADD_PROVIDER = 2), key = 2 (bytes), providerPeers = 9 (Peer) },
 * Peer { id = 1 (bytes: the peer id's multihash), addrs = 2 (repeated bytes) }.
 */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(tag: number, bytes: Uint8Array): number[] {
  return [tag, ...varint(bytes.length), ...bytes];
}

/** One ADD_PROVIDER message: `provider` (a peer id's multihash bytes) provides `key` (a CID's multihash bytes) at `addrs`. */
export function addProviderMessage(key: Uint8Array, provider: Uint8Array, addrs: readonly Uint8Array[]): Uint8Array {
  const peer = [...field(0x0a, provider), ...addrs.flatMap((a) => field(0x12, a))];
  return Uint8Array.from([0x08, 0x02, ...field(0x12, key), ...field(0x4a, Uint8Array.from(peer))]);
}
