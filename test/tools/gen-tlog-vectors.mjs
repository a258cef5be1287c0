// Generates protocol/vectors/tlog.json: test vectors for SPEC §16 (issuer logs).
//
//   node test/tools/gen-tlog-vectors.mjs > protocol/vectors/tlog.json
//
// Independent of the project's code on purpose: this script imports nothing but node:
// modules. SHA-256 and Ed25519 are node:crypto's (OpenSSL); the RFC 9162 Merkle tree, the
// C2SP signed-note, tlog-checkpoint and tlog-cosignature formats, base58btc and the
// equivocation rule are written here from the standards' text. Before printing, the script
// checks its own code against published data (the RFC 6962 reference tree, the
// golang.org/x/mod/sumdb/note and c2sp.org/signed-note examples) and verifies every proof
// and signature it made with its own verifiers. Deterministic: fixed seeds, leaves, times.

import { Buffer } from 'node:buffer';
import { createHash, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify } from 'node:crypto';
import process from 'node:process';

// ---- primitives ----------------------------------------------------------------------

const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
  return h.digest();
};
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');
const b64 = (b) => Buffer.from(b).toString('base64');
const seedOf = (byte) => Buffer.alloc(32, byte);

const PKCS8_ED25519 = unhex('302e020100300506032b657004220420');
const SPKI_ED25519 = unhex('302a300506032b6570032100');
const privateKey = (seed) => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
const publicKeyObject = (pub) => createPublicKey({ key: Buffer.concat([SPKI_ED25519, pub]), format: 'der', type: 'spki' });
const publicKeyOf = (seed) => createPublicKey(privateKey(seed)).export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length);
const ed25519Sign = (msg, seed) => edSign(null, Buffer.from(msg), privateKey(seed));
const ed25519Verify = (sig, msg, pub) => edVerify(null, Buffer.from(msg), publicKeyObject(pub), sig);

function check(ok, what) {
  if (!ok) throw new Error(`self-check failed: ${what}`);
}

// ---- base58btc and did:key (W3C did:key, multicodec ed25519-pub 0xed 0x01) ---------------

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58btc(bytes) {
  let n = 0n;
  for (const b of bytes) n = n * 256n + BigInt(b);
  let out = '';
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = '1' + out;
  }
  return out;
}
function unbase58btc(text) {
  let n = 0n;
  for (const c of text) {
    const d = B58.indexOf(c);
    if (d < 0) throw new Error(`not base58btc: ${c}`);
    n = n * 58n + BigInt(d);
  }
  const out = [];
  while (n > 0n) {
    out.unshift(Number(n % 256n));
    n /= 256n;
  }
  for (const c of text) {
    if (c !== '1') break;
    out.unshift(0);
  }
  return Buffer.from(out);
}
const didKey = (pub) => `did:key:z${base58btc(Buffer.concat([Buffer.from([0xed, 0x01]), pub]))}`;
function didKeyPublic(did) {
  if (!did.startsWith('did:key:z')) return undefined;
  const b = unbase58btc(did.slice('did:key:z'.length));
  return b.length === 34 && b[0] === 0xed && b[1] === 0x01 ? b.subarray(2) : undefined;
}

// ---- RFC 9162 §2.1 Merkle tree ---------------------------------------------------------

const EMPTY = sha256(Buffer.alloc(0));
const leafHash = (leaf) => sha256(Buffer.from([0x00]), leaf);
const nodeHash = (l, r) => sha256(Buffer.from([0x01]), l, r);
/** k: the largest power of two smaller than n (n > 1). */
const splitPoint = (n) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
/** MTH(D[n]) over leaf hashes (D is given hashed, as the tree stores it). */
function mth(d) {
  if (d.length === 0) return EMPTY;
  if (d.length === 1) return d[0];
  const k = splitPoint(d.length);
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}
/** PATH(m, D[n]) of §2.1.3.1. */
function pathOf(m, d) {
  if (d.length <= 1) return [];
  const k = splitPoint(d.length);
  return m < k ? [...pathOf(m, d.slice(0, k)), mth(d.slice(k))] : [...pathOf(m - k, d.slice(k)), mth(d.slice(0, k))];
}
/** SUBPROOF(m, D[n], b) of §2.1.4.1. */
function subproofOf(m, d, b) {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = splitPoint(d.length);
  return m <= k ? [...subproofOf(m, d.slice(0, k), b), mth(d.slice(k))] : [...subproofOf(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
/** PROOF(m, D[n]) of §2.1.4.1 (empty for m = 0 or m = n). */
const consistencyOf = (m, d) => (m === 0 || m === d.length ? [] : subproofOf(m, d, true));

/** §2.1.3.2, step by step. */
function verifyInclusion(leaf, index, size, proof, rootHash) {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(rootHash);
}
const isPow2 = (n) => n > 0 && (n & (n - 1)) === 0;
/**
 * §2.1.4.2's computation of (fr, sr) from the path `nodes` for 0 < first < second, where
 * `nodes` already starts with the first tree's root when first is a power of two (the RFC
 * prepends first_hash then); undefined when the path does not fit the sizes.
 */
function consistencyRoots(first, second, nodes) {
  if (!(0 < first && first < second) || nodes.length === 0) return undefined;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = nodes[0];
  let sr = nodes[0];
  for (const c of nodes.slice(1)) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? { fr, sr } : undefined;
}
function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0) return proof.length === 0 && firstRoot.equals(EMPTY);
  const r = consistencyRoots(first, second, isPow2(first) ? [firstRoot, ...proof] : proof);
  return r !== undefined && r.fr.equals(firstRoot) && r.sr.equals(secondRoot);
}

// ---- C2SP signed-note, tlog-checkpoint, tlog-cosignature ------------------------------------

const DASH = '\u2014 ';
/** signed-note Ed25519 key id: SHA-256(name || 0x0A || 0x01 || key)[:4]. */
const noteKeyId = (name, pub) => sha256(name, Buffer.from([0x0a, 0x01]), pub).subarray(0, 4);
/** tlog-cosignature v1 key id: SHA-256(name || 0x0A || 0x04 || key)[:4]. */
const cosigKeyId = (name, pub) => sha256(name, Buffer.from([0x0a, 0x04]), pub).subarray(0, 4);
const sigLine = (name, blob) => `${DASH}${name} ${b64(blob)}`;
const noteSignatureLine = (text, name, seed) => sigLine(name, Buffer.concat([noteKeyId(name, publicKeyOf(seed)), ed25519Sign(Buffer.from(text, 'utf8'), seed)]));
const signNote = (text, name, seed) => `${text}\n${noteSignatureLine(text, name, seed)}\n`;
const verifierKey = (name, pub) => `${name}+${hex(noteKeyId(name, pub))}+${b64(Buffer.concat([Buffer.from([0x01]), pub]))}`;
function parseNote(note) {
  const cut = note.lastIndexOf('\n\n');
  if (cut < 0 || !note.endsWith('\n')) throw new Error('not a note');
  const text = note.slice(0, cut + 1);
  const lines = note
    .slice(cut + 2, -1)
    .split('\n')
    .map((l) => {
      const m = /^\u2014 (\S+) (\S+)$/u.exec(l);
      if (!m) throw new Error(`bad signature line ${l}`);
      const blob = Buffer.from(m[2], 'base64');
      return { name: m[1], id: blob.subarray(0, 4), sig: blob.subarray(4) };
    });
  return { text, lines };
}
const checkpointText = (origin, size, root, extensions) => [origin, String(size), b64(root), ...extensions].join('\n') + '\n';
function parseCheckpoint(text) {
  const [origin, size, root] = text.split('\n');
  return { origin, size: Number(size), root: Buffer.from(root, 'base64') };
}
const cosignedMessage = (text, ts) => `cosignature/v1\ntime ${ts}\n${text}`;
function cosignLine(name, seed, ts, text, opts = {}) {
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(BigInt(ts));
  const signedTs = opts.signedTimestamp ?? ts;
  const sig = ed25519Sign(Buffer.from(cosignedMessage(text, signedTs), 'utf8'), opts.signingSeed ?? seed);
  const id = opts.keyId ?? cosigKeyId(name, publicKeyOf(seed));
  return sigLine(name, Buffer.concat([id, t, sig]));
}

// ---- self-checks against published data ---------------------------------------------------

// RFC 6962 reference tree (certificate-transparency merkle_tree_test; transparency-dev/merkle).
{
  const d = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((s) => leafHash(unhex(s)));
  const roots = [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];
  check(hex(mth([])) === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'RFC 6962 empty root');
  for (let n = 1; n <= 8; n++) check(hex(mth(d.slice(0, n))) === roots[n - 1], `RFC 6962 root ${n}`);
  check(
    pathOf(0, d).map(hex).join() === '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7,5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e,6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    'RFC 6962 inclusion 0/8',
  );
  check(
    pathOf(5, d).map(hex).join() === 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b,ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0,d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    'RFC 6962 inclusion 5/8',
  );
  check(consistencyOf(2, d).map(hex).join() === '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e,6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4', 'RFC 6962 consistency 2/8');
  check(
    consistencyOf(6, d).map(hex).join() === '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a,ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0,d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    'RFC 6962 consistency 6/8',
  );
}

// golang.org/x/mod/sumdb/note's example (PeterNeumann) and c2sp.org/signed-note's example.
{
  const skey = Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64');
  check(skey.length === 33 && skey[0] === 0x01, 'Go signer key');
  const seed = skey.subarray(1);
  const text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
  check(verifierKey('PeterNeumann', publicKeyOf(seed)) === 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', 'Go verifier key');
  check(signNote(text, 'PeterNeumann', seed) === `${text}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`, 'Go signed note');
  const c2spPub = Buffer.from('AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k', 'base64').subarray(1);
  const n = parseNote('This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n');
  check(hex(noteKeyId('example.com/foo', c2spPub)) === '530d903a' && n.lines[0].id.equals(noteKeyId('example.com/foo', c2spPub)), 'C2SP key id');
  check(ed25519Verify(n.lines[0].sig, Buffer.from(n.text), c2spPub), 'C2SP example signature');
}

// did:key: the W3C did:key spec's example decodes to an Ed25519 key and re-encodes to itself.
{
  const ex = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';
  const pub = didKeyPublic(ex);
  check(pub !== undefined && didKey(pub) === ex, 'W3C did:key example');
}

// ---- fixed inputs -------------------------------------------------------------------------

function keyOf(role, byte) {
  const seed = seedOf(byte);
  const publicKey = publicKeyOf(seed);
  return { role, seed, publicKey, did: didKey(publicKey) };
}
const ISSUER = keyOf('issuer', 0x01);
const OTHER = keyOf('other issuer', 0x02);
const W1 = keyOf('witness 1', 0x03);
const W2 = keyOf('witness 2', 0x04);
const KEYS = [ISSUER, OTHER, W1, W2];
const logOrigin = (k) => `chorus-log/${k.did}`;
const witnessName = (k) => `chorus-witness/${k.did}`;

/** Time of the issuer's checkpoints (2026-06-01T00:00:00Z) and of the cosignatures. */
const T = 1780272000;
const timeLine = (s) => `time ${s}`;

const ids = (labels) => labels.map((l) => sha256(l));
/** The honest log: attestation ids sha256("leaf 0") … sha256("leaf 7"). */
const HONEST = ids(Array.from({ length: 8 }, (_, i) => `leaf ${i}`));
/** A forked history: the same first three leaves, then others. */
const FORK = ids(Array.from({ length: 8 }, (_, i) => (i < 3 ? `leaf ${i}` : `fork leaf ${i}`)));
const hashed = (log) => log.map(leafHash);

// ---- 1. merkle -------------------------------------------------------------------------------

const D = hashed(HONEST);
const merkle = {
  description:
    'RFC 9162 §2.1 tree. `leaves` are attestation ids (the log leaves, sha256("leaf i")); `leafHashes` their SHA-256(0x00 || id). Roots are MTH of the first `size` leaf hashes (size 0: SHA-256 of nothing). Inclusion proofs are PATH (§2.1.3.1), consistency proofs PROOF/SUBPROOF (§2.1.4.1), deepest node first; all hex.',
  leaves: HONEST.map(hex),
  leafHashes: D.map(hex),
  roots: Array.from({ length: 9 }, (_, n) => ({ size: n, expect: { root: hex(mth(D.slice(0, n))) } })),
  inclusion: [
    [0, 1],
    [0, 2],
    [1, 2],
    [2, 3],
    [3, 4],
    [4, 5],
    [2, 5],
    [5, 6],
    [6, 7],
    [0, 7],
    [0, 8],
    [3, 8],
    [5, 8],
    [7, 8],
  ].map(([index, size]) => {
    const proof = pathOf(index, D.slice(0, size));
    check(verifyInclusion(D[index], index, size, proof, mth(D.slice(0, size))), `inclusion ${index}/${size}`);
    return { index, size, expect: { proof: proof.map(hex) } };
  }),
  consistency: [
    [0, 8],
    [8, 8],
    [1, 2],
    [1, 8],
    [2, 3],
    [2, 8],
    [3, 5],
    [3, 7],
    [3, 8],
    [4, 5],
    [4, 7],
    [4, 8],
    [5, 7],
    [5, 8],
    [6, 8],
    [7, 8],
  ].map(([first, second]) => {
    const proof = consistencyOf(first, D.slice(0, second));
    check(verifyConsistency(first, second, mth(D.slice(0, first)), mth(D.slice(0, second)), proof), `consistency ${first}/${second}`);
    return { first, second, expect: { proof: proof.map(hex) } };
  }),
};

// ---- 2. checkpoints ------------------------------------------------------------------------------

/** A signed checkpoint of `key`'s log over the first `size` leaves of `log`. */
function checkpoint(key, log, size, extensions = [timeLine(T)]) {
  const origin = logOrigin(key);
  const root = mth(hashed(log).slice(0, size));
  const text = checkpointText(origin, size, root, extensions);
  const line = noteSignatureLine(text, origin, key.seed);
  const note = `${text}\n${line}\n`;
  const n = parseNote(note);
  check(n.lines.length === 1 && n.lines[0].id.equals(noteKeyId(origin, key.publicKey)) && ed25519Verify(n.lines[0].sig, Buffer.from(text), key.publicKey), 'checkpoint signature');
  return { key, origin, size, root, extensions, text, line, note };
}

const checkpointCase = (name, c) => ({
  name,
  seed: hex(c.key.seed),
  size: c.size,
  root: hex(c.root),
  extensions: c.extensions,
  expect: {
    publicKey: hex(c.key.publicKey),
    did: c.key.did,
    origin: c.origin,
    keyId: hex(noteKeyId(c.origin, c.key.publicKey)),
    verifierKey: verifierKey(c.origin, c.key.publicKey),
    text: c.text,
    signatureLine: c.line,
    note: c.note,
  },
});

const CP8 = checkpoint(ISSUER, HONEST, 8);
const checkpoints = {
  description:
    'C2SP tlog-checkpoint in a C2SP signed-note (Ed25519). The issuer key is the 32-byte `seed`; its did is did:key:z + base58btc(0xed 0x01 || public key); origin and key name are chorus-log/<did>; key id = SHA-256(name || 0x0A || 0x01 || public key)[:4]; text = origin, size, base64(root), extension lines, each ending in "\\n"; note = text, "\\n", "— <name> <base64(key id || Ed25519 signature of text)>\\n". `root` is the merkle section\'s root of that size; extension `time <unix seconds>`.',
  cases: [
    checkpointCase('empty log', checkpoint(ISSUER, HONEST, 0)),
    checkpointCase('one leaf', checkpoint(ISSUER, HONEST, 1)),
    checkpointCase('five leaves', checkpoint(ISSUER, HONEST, 5)),
    checkpointCase('eight leaves', CP8),
    checkpointCase('no extension line', checkpoint(ISSUER, HONEST, 3, [])),
    checkpointCase('another issuer', checkpoint(OTHER, HONEST, 2)),
  ],
};

// ---- 3. cosignatures -------------------------------------------------------------------------------

const NOW = T + 3600;
function cosignature(w, ts, text) {
  const name = witnessName(w);
  const line = cosignLine(name, w.seed, ts, text);
  return { seed: hex(w.seed), timestamp: ts, expect: { did: w.did, name, keyId: hex(cosigKeyId(name, w.publicKey)), message: cosignedMessage(text, ts), line } };
}
/** A witness's own check of a cosignature line, as c2sp.org/tlog-cosignature defines it, plus the skew bound. */
function cosignatureValid(line, text, now) {
  const { lines } = parseNote(`${text}\n${line}\n`);
  const s = lines[0];
  if (!s.name.startsWith('chorus-witness/') || s.sig.length !== 72) return false;
  const pub = didKeyPublic(s.name.slice('chorus-witness/'.length));
  if (pub === undefined || !s.id.equals(cosigKeyId(s.name, pub))) return false;
  const ts = s.sig.readBigUInt64BE(0);
  if (ts > BigInt(now + 600)) return false;
  return ed25519Verify(s.sig.subarray(8), Buffer.from(cosignedMessage(text, ts)), pub);
}

const c1 = cosignature(W1, T + 60, CP8.text);
const c2 = cosignature(W2, T + 120, CP8.text);
for (const c of [c1, c2]) check(cosignatureValid(c.expect.line, CP8.text, NOW), 'cosignature');
const cosignedNote = `${CP8.text}\n${[CP8.line, c1.expect.line, c2.expect.line].join('\n')}\n`;

/** Lines a verifier reads from a note of CP8 (after the issuer's line), and which it keeps. */
const w1Name = witnessName(W1);
const w2Name = witnessName(W2);
const filterLines = [
  { why: 'valid', line: c1.expect.line, valid: true },
  { why: 'valid, the newer of two by the same witness', line: cosignLine(w1Name, W1.seed, T + 90, CP8.text), valid: true },
  { why: 'valid, at the skew bound (now + 600 s)', line: cosignLine(w2Name, W2.seed, NOW + 600, CP8.text), valid: true },
  { why: 'timestamp more than 600 s ahead of now', line: cosignLine(w2Name, W2.seed, NOW + 601, CP8.text), valid: false },
  { why: 'the signature is over another timestamp than the blob carries', line: cosignLine(w2Name, W2.seed, T + 30, CP8.text, { signedTimestamp: T + 31 }), valid: false },
  { why: 'key id of a signed-note Ed25519 key (0x01), not of a cosignature/v1 key (0x04)', line: cosignLine(w2Name, W2.seed, T + 30, CP8.text, { keyId: noteKeyId(w2Name, W2.publicKey) }), valid: false },
  { why: "signed by another key than the name's did", line: cosignLine(w2Name, W2.seed, T + 30, CP8.text, { signingSeed: W1.seed }), valid: false },
  { why: 'a plain signed-note signature line, not a cosignature', line: noteSignatureLine(CP8.text, w2Name, W2.seed), valid: false },
  { why: 'cosignature of another text', line: cosignLine(w2Name, W2.seed, T + 30, checkpoint(ISSUER, HONEST, 7).text), valid: false },
];
for (const f of filterLines) check(cosignatureValid(f.line, CP8.text, NOW) === f.valid, `cosignature filter: ${f.why}`);

const cosignatures = {
  description:
    'c2sp.org/tlog-cosignature v1 by witnesses. Witness key name chorus-witness/<did>; key id = SHA-256(name || 0x0A || 0x04 || public key)[:4]; the line is "— <name> <base64(key id || u64 big-endian timestamp || Ed25519 signature)>", the signature over `message` = "cosignature/v1\\ntime <timestamp>\\n" + checkpoint text. `note` is the checkpoint note with the issuer\'s line, then the cosignature lines in order. `filter`: lines after the issuer\'s in a note of the same text, read at `now`; a verifier keeps those marked valid (a timestamp at most 600 s ahead of now; one per witness, the newest), `expect.verified` lists what it keeps, in any order.',
  cases: [
    {
      name: 'two witnesses cosign the eight-leaf checkpoint',
      checkpointNote: CP8.note,
      text: CP8.text,
      now: NOW,
      cosignatures: [c1, c2],
      expect: {
        note: cosignedNote,
        verified: [
          { witness: W1.did, timestamp: c1.timestamp, line: c1.expect.line },
          { witness: W2.did, timestamp: c2.timestamp, line: c2.expect.line },
        ],
      },
    },
  ],
  filter: {
    text: CP8.text,
    checkpointNote: CP8.note,
    now: NOW,
    lines: filterLines,
    expect: {
      verified: [
        { witness: W1.did, timestamp: T + 90, line: filterLines[1].line },
        { witness: W2.did, timestamp: NOW + 600, line: filterLines[2].line },
      ],
    },
  },
};

// ---- 4. equivocation proofs ----------------------------------------------------------------------

const TYPE = 'chorus-equivocation/v1';
/** Orders two checkpoints as a proof does: the smaller first; at equal sizes the lower root hex first. */
const ordered = (x, y) => (x.size < y.size || (x.size === y.size && hex(x.root) < hex(y.root)) ? [x, y] : [y, x]);
/** The nodes showing that `a` (size m) is not a prefix of `b`'s tree (size n > m) over `log`. */
function inconsistency(bLog, m, n) {
  const d = hashed(bLog).slice(0, n);
  const proof = consistencyOf(m, d);
  return isPow2(m) ? [mth(d.slice(0, m)), ...proof] : proof;
}

/** An independent judge of a proof: the error code a verifier must give, or 'valid'. */
function judge(p) {
  if (p === null || typeof p !== 'object' || p.type !== TYPE || typeof p.a !== 'string' || typeof p.b !== 'string' || !Array.isArray(p.nodes)) return 'bad_input';
  if (p.nodes.length > 64 || !p.nodes.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) return 'bad_input';
  const read = (note) => {
    const n = parseNote(note);
    const c = parseCheckpoint(n.text);
    const did = c.origin.slice('chorus-log/'.length);
    const pub = didKeyPublic(did);
    const ok = n.lines.some((s) => s.name === c.origin && s.id.equals(noteKeyId(c.origin, pub)) && s.sig.length === 64 && ed25519Verify(s.sig, Buffer.from(n.text), pub));
    return { ...c, did, ok };
  };
  const a = read(p.a);
  const b = read(p.b);
  if (!a.ok || !b.ok) return 'bad_signature';
  if (a.did !== b.did) return 'bad_input';
  const nodes = p.nodes.map(unhex);
  if (a.size === b.size) {
    if (a.root.equals(b.root)) return 'not_equivocation';
    return nodes.length === 0 ? 'valid' : 'bad_input';
  }
  if (a.size > b.size) return 'bad_input';
  if (a.size === 0) return 'not_equivocation';
  const r = consistencyRoots(a.size, b.size, nodes);
  if (r === undefined || !r.sr.equals(b.root)) return 'bad_input';
  return r.fr.equals(a.root) ? 'not_equivocation' : 'valid';
}

const proofOf = (a, b, nodes) => ({ type: TYPE, a: a.note, b: b.note, nodes: nodes.map(hex) });
const H = (size) => ({ ...checkpoint(ISSUER, HONEST, size), log: 'honest' });
const F = (size) => ({ ...checkpoint(ISSUER, FORK, size), log: 'fork' });
const LOGS = { honest: HONEST, fork: FORK };

/** A valid proof from two checkpoints x, y (given in this order), the nodes from the larger one's log. */
function validCase(name, x, y) {
  const [a, b] = ordered(x, y);
  const nodes = a.size === b.size ? [] : inconsistency(LOGS[b.log], a.size, b.size);
  const proof = proofOf(a, b, nodes);
  check(judge(proof) === 'valid', `valid equivocation: ${name}`);
  return {
    name,
    x: x.note,
    y: y.note,
    nodesFrom: a.size === b.size ? null : { log: b.log, first: a.size, second: b.size },
    expect: { issuer: ISSUER.did, proof },
  };
}
function invalidCase(name, proof, error) {
  check(judge(proof) === error, `invalid equivocation ${name}: judged ${judge(proof)}, want ${error}`);
  return { name, proof, expect: { error } };
}

const h8 = H(8);
const f8 = F(8);
const flip = (h) => {
  const b = unhex(h);
  b[31] ^= 0x01;
  return hex(b);
};
const [lowRoot8, highRoot8] = ordered(h8, f8);

const valid = [
  validCase('same size 8, different roots (the higher root hex given first)', highRoot8, lowRoot8),
  validCase('size 5 (not a power of two) is not a prefix of the fork at 8', H(5), f8),
  validCase('size 4 (power of two: the true prefix root first) is not a prefix of the fork at 7 (larger given first)', F(7), H(4)),
  validCase('size 6 of the fork is not a prefix of the honest log at 8', F(6), h8),
  validCase('size 4 of the fork (power of two) is not a prefix of the honest log at 5', F(4), H(5)),
];

const sameSize = valid[0].expect.proof;
const diffSize = valid[1].expect.proof;
const pow2 = valid[2].expect.proof;
/** A note with the issuer's origin and key name, signed by another key (so its key id is another's). */
const forgedText = checkpointText(logOrigin(ISSUER), 8, mth(hashed(FORK)), [timeLine(T)]);
const forgedNote = signNote(forgedText, logOrigin(ISSUER), OTHER.seed);
/** The issuer's key id with another key's signature. */
const forgedSameId = `${forgedText}\n${sigLine(logOrigin(ISSUER), Buffer.concat([noteKeyId(logOrigin(ISSUER), ISSUER.publicKey), ed25519Sign(Buffer.from(forgedText), OTHER.seed)]))}\n`;

const invalid = [
  invalidCase('same checkpoint twice', proofOf(h8, h8, []), 'not_equivocation'),
  invalidCase('consistent: 3 is a prefix of 8 (honest nodes)', proofOf(H(3), h8, inconsistency(HONEST, 3, 8)), 'not_equivocation'),
  invalidCase('consistent: 4 is a prefix of 8 (power of two, true prefix root first)', proofOf(H(4), h8, inconsistency(HONEST, 4, 8)), 'not_equivocation'),
  invalidCase('consistent: the fork shares its first 3 leaves with the honest log', proofOf(H(3), f8, inconsistency(FORK, 3, 8)), 'not_equivocation'),
  invalidCase('consistent: 2 (power of two) is a prefix of the fork', proofOf(H(2), f8, inconsistency(FORK, 2, 8)), 'not_equivocation'),
  invalidCase('the empty log is a prefix of every log', proofOf(H(0), f8, []), 'not_equivocation'),
  invalidCase('tampered node (last)', { ...diffSize, nodes: diffSize.nodes.map((h, i) => (i === diffSize.nodes.length - 1 ? flip(h) : h)) }, 'bad_input'),
  invalidCase('tampered node (first: the prefix root of a power-of-two size)', { ...pow2, nodes: pow2.nodes.map((h, i) => (i === 0 ? flip(h) : h)) }, 'bad_input'),
  invalidCase('a node missing', { ...diffSize, nodes: diffSize.nodes.slice(0, -1) }, 'bad_input'),
  invalidCase('power-of-two size without its prefix root', { ...pow2, nodes: pow2.nodes.slice(1) }, 'bad_input'),
  invalidCase('no nodes for different sizes', { ...diffSize, nodes: [] }, 'bad_input'),
  invalidCase('nodes on a same-size proof', { ...sameSize, nodes: [hex(h8.root)] }, 'bad_input'),
  invalidCase('a and b swapped (a larger)', { ...diffSize, a: diffSize.b, b: diffSize.a }, 'bad_input'),
  invalidCase('nodes not lowercase hex', { ...diffSize, nodes: diffSize.nodes.map((h) => h.toUpperCase()) }, 'bad_input'),
  invalidCase('wrong type', { ...sameSize, type: 'chorus-equivocation/v2' }, 'bad_input'),
  invalidCase('checkpoints of two issuers', proofOf(checkpoint(OTHER, HONEST, 8), h8, []), 'bad_input'),
  invalidCase("the fork's note carries the issuer's origin and key name but is signed by another key", { ...sameSize, [sameSize.b === f8.note ? 'b' : 'a']: forgedNote }, 'bad_signature'),
  invalidCase("the fork's note carries the issuer's key id with another key's signature", { ...sameSize, [sameSize.b === f8.note ? 'b' : 'a']: forgedSameId }, 'bad_signature'),
];

const equivocation = {
  description:
    'chorus-equivocation/v1 proofs: {type, a, b, nodes}. a and b are signed checkpoint notes (issuer line only) of one issuer; a is the smaller, or at equal sizes the one whose root hex sorts first. Same size: different roots, no nodes. Different sizes m < n: nodes (hex) are the larger tree\'s RFC 9162 consistency proof from m to n, with the true root of its first m leaves prepended when m is a power of two; RFC 9162 §2.1.4.2 run over them must give the larger root (sr) and a prefix root (fr) other than a\'s. `valid`: build the proof from the notes x and y (in either order) and the nodes of log `nodesFrom.log` (from `logs`), expect `proof`; verifying it gives `issuer`. `invalid`: verifying `proof` fails with `error`: not_equivocation (consistent), bad_input (malformed, nodes that do not hash to the larger root), bad_signature (a note not signed by the issuer its origin names).',
  logs: { honest: HONEST.map(hex), fork: FORK.map(hex) },
  valid,
  invalid,
};

// ---- output ----------------------------------------------------------------------------------------

const out = {
  description:
    'SPEC §16 issuer logs: Merkle tree, checkpoint notes, cosignatures, equivocation proofs. Generated by `node test/tools/gen-tlog-vectors.mjs > protocol/vectors/tlog.json`, independently of the project\'s code: the generator uses only node:crypto (SHA-256, Ed25519) and its own RFC 9162 Merkle, C2SP note and base58btc code, checked against the RFC 6962 reference tree and the published Go and C2SP signed-note examples. Hex is lowercase; times are unix seconds.',
  keys: KEYS.map((k) => ({ role: k.role, seed: hex(k.seed), publicKey: hex(k.publicKey), did: k.did })),
  merkle,
  checkpoints,
  cosignatures,
  equivocation,
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
