import { describe, expect, it } from 'vitest';
import { publicKeyOf, referenceSuite } from '../../src/crypto/reference-suite.js';
import { checkpointText, encodeVerifierKey, parseCheckpoint, parseNote, parseSignerKey, parseVerifierKey, signNote, verifiedBy } from '../../src/tlog/note.js';
import { root } from '../../src/tlog/merkle.js';

/*
 * Published vectors: the example of golang.org/x/mod/sumdb/note (its package doc and
 * note_test.go: PeterNeumann's signer and verifier keys and the note they sign, EnochRoot's
 * verifier key and signature of the same text), and the example of c2sp.org/signed-note.
 * Ed25519 is deterministic, so signing the text with the published signer key must give
 * the published note byte for byte.
 */
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
const C2SP_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const C2SP_NOTE = 'This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

describe('C2SP signed notes and checkpoints, byte for byte against the published examples', () => {
  it('signs the Go example text to the published note, and derives the published verifier key', () => {
    const signer = parseSignerKey(PETER_SKEY);
    expect(encodeVerifierKey(signer.name, signer.publicKey)).toBe(PETER_VKEY);
    expect(signNote(TEXT, signer.name, signer.seed)).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('verifies the published notes (one signer, two signers, the C2SP example) and nothing altered', () => {
    const peter = parseVerifierKey(PETER_VKEY);
    const enoch = parseVerifierKey(ENOCH_VKEY);
    const both = parseNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`);
    expect(both.text).toBe(TEXT);
    expect(verifiedBy(both, peter, referenceSuite)).toBe(true);
    expect(verifiedBy(both, enoch, referenceSuite)).toBe(true);
    expect(verifiedBy(parseNote(C2SP_NOTE), parseVerifierKey(C2SP_VKEY), referenceSuite)).toBe(true);
    expect(verifiedBy(parseNote(`${TEXT.replace('cryptography', 'cryptographY')}\n${PETER_SIG}`), peter, referenceSuite)).toBe(false);
    expect(verifiedBy(parseNote(`${TEXT}\n${ENOCH_SIG}`), peter, referenceSuite)).toBe(false);
  });

  it('a checkpoint round-trips, signed and verified with a key of our own', () => {
    const seed = new Uint8Array(32).fill(7);
    const name = 'chorus.example/log';
    const c = { origin: name, size: 3, root: root([new Uint8Array(32), new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]), extensions: ['extension line'] };
    const note = signNote(checkpointText(c), name, seed);
    const parsed = parseNote(note);
    expect(parseCheckpoint(parsed.text)).toEqual(c);
    expect(verifiedBy(parsed, parseVerifierKey(encodeVerifierKey(name, publicKeyOf(seed))), referenceSuite)).toBe(true);
  });

  it('malformed notes, keys and checkpoints are refused with bad_input', () => {
    for (const n of [TEXT, `${TEXT}${PETER_SIG}`, `${TEXT}\n${PETER_SIG.replace('\u2014 ', '- ')}`, `${TEXT}\n${PETER_SIG.replace('=\n', '\n')}`, `${TEXT}\n${PETER_SIG}`.slice(0, -1), `a\n\nb\n\n${PETER_SIG}`, 'x'.repeat(20_000)]) {
      expect(() => parseNote(n), JSON.stringify(n.slice(0, 40))).toThrow(expect.objectContaining({ code: 'bad_input' }));
    }
    for (const k of ['PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', 'Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW', 'PeterNeumann', '']) {
      expect(() => parseVerifierKey(k), k).toThrow(expect.objectContaining({ code: 'bad_input' }));
    }
    const r = Buffer.from(new Uint8Array(32)).toString('base64');
    for (const t of ['origin\n1\n', 'origin\n01\n' + r + '\n', 'origin\n-1\n' + r + '\n', `origin\n1\n${r.slice(0, -1)}\n`, `\n1\n${r}\n`, `origin\n1\n${r}\n\n`, `origin\n99999999999999999\n${r}\n`]) {
      expect(() => parseCheckpoint(t), JSON.stringify(t)).toThrow(expect.objectContaining({ code: 'bad_input' }));
    }
  });
});
