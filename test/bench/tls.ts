/**
 * LAN benchmark (issue 22): `npm run bench:tls [-- --quick]`. A benchmark, never a test.
 * One daemon (the built CLI, a child process) serving the loopback API over plain HTTP and
 * the LAN server over HTTPS (on 127.0.0.2, with the certificate it made), 1,000 digests
 * stored. GET …/reputation of the same digests, one connection each kept alive, in
 * alternating rounds: the p50 over HTTPS beside the p50 over plain HTTP in the same run.
 * Goal: TLS adds ≤ 10 % to the p50.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome, resolveHome } from '../../node/home/home.js';
import { replaceRoots } from '../../node/home/trust-list.js';
import { LocalNode } from '../../node/local/local-node.js';
import { exampleFields, makeEnvelopeLine, makeIssuer } from '../support/fixtures.js';
import { QUICK, daemonUrl, logger, met, quantile as pct, sleep, spawnCli, stopChild, table } from './kit.js';

const DIGESTS = 1_000;
const ROUNDS = QUICK ? 4 : 10;
const PER_ROUND = QUICK ? 500 : 2_000;
const log = logger('bench:tls');

const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-tls-'));
const home = resolveHome({}, dir);
await initHome(home);
await writeFile(home.config, JSON.stringify({ api: { lan: true, lanHost: '127.0.0.2', lanPort: 0 }, net: { enabled: false } }));
const issuer = makeIssuer();
const digest = (i: number): string => i.toString(16).padStart(64, '0');
{
  const node = await LocalNode.open(home, { env: {} });
  await node.ingestor.ingestMany(Array.from({ length: DIGESTS }, (_, i) => makeEnvelopeLine(issuer, { subjects: [digest(i)], fields: exampleFields('audit', { verdict: i % 7 === 0 ? 'fail' : 'pass' }) })), () => {});
  await node.close();
  await replaceRoots(home.trust, [{ issuer: issuer.did }], new Date());
}
const child = spawnCli(['start', '--port', '0', '--log-level', 'warn'], { home: dir });
try {
  const url = await daemonUrl(child, dir, { timeoutMs: 20_000 });
  const token = (await readFile(home.token, 'utf8')).trim();
  let lanUrl: string | undefined;
  for (let i = 0; i < 100 && lanUrl === undefined; i++) {
    lanUrl = ((await (await fetch(`${url}/v1/status`)).json()) as { api: { lan?: { url: string } } }).api.lan?.url;
    if (lanUrl === undefined) await sleep(50);
  }
  if (lanUrl === undefined) throw new Error('the LAN server did not start');
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  const one = (base: string, i: number): Promise<number> => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const tls = base.startsWith('https:');
    const req = (tls ? httpsRequest : httpRequest)(`${base}/v1/models/sha256:${digest(i % DIGESTS)}/reputation?lookup=false`, { agent: tls ? httpsAgent : httpAgent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
  // Warm both (the TLS handshake, the view cache).
  for (let i = 0; i < DIGESTS; i++) {
    await one(url, i);
    await one(lanUrl, i);
  }
  const plain: number[] = [];
  const tls: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [base, into] of (r % 2 === 0 ? [[url, plain], [lanUrl, tls]] : [[lanUrl, tls], [url, plain]]) as [string, number[]][]) {
      for (let i = 0; i < PER_ROUND; i++) into.push(await one(base, r * PER_ROUND + i));
    }
    log(`round ${r + 1}/${ROUNDS}`);
  }
  const p50 = { plain: pct(plain, 0.5), tls: pct(tls, 0.5) };
  const extra = (100 * (p50.tls - p50.plain)) / p50.plain;
  console.log(`\nbench:tls${QUICK ? ' (quick)' : ''}: GET …/reputation, ${DIGESTS} digests, one kept-alive connection each, ${ROUNDS} alternating rounds of ${PER_ROUND}`);
  console.log(table(['figure', 'measured', 'reference (same run)', 'goal'], [
    ['p50 over HTTPS (LAN server)', `${p50.tls.toFixed(3)} ms (p99 ${pct(tls, 0.99).toFixed(3)} ms)`, `plain HTTP (loopback API): ${p50.plain.toFixed(3)} ms (p99 ${pct(plain, 0.99).toFixed(3)} ms) → TLS adds ${extra.toFixed(1)} %`, `≤ 10 %: ${met(extra <= 10)}`],
  ]));
  httpAgent.destroy();
  httpsAgent.destroy();
} finally {
  await stopChild(child);
  await rm(dir, { recursive: true, force: true });
}
