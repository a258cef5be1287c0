// Attack review: under bin/chorus.js's child-process path (Node < 22, or CHORUS_NODE set),
// Ctrl-C in a terminal signals the whole foreground process group: the node gets SIGINT from
// the terminal AND again from the launcher, which forwards it. `chorus start` treats a
// repeated signal as "exit without waiting" (exit 1, store not closed, daemon.json left).
// Expected: one Ctrl-C stops the node cleanly (exit 0, daemon.json removed).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe('bin/chorus.js with CHORUS_NODE, stopped by a terminal Ctrl-C', () => {
  it('stops the node cleanly', async () => {
    const home = mkdtempSync(join(tmpdir(), 'chorus-attack-'));
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'chorus.js'), 'start', '--port', '0', '--no-net'], {
      env: { ...process.env, CHORUS_HOME: home, CHORUS_NODE: process.execPath },
      detached: true, // its own process group, as a terminal's foreground job
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    const deadline = Date.now() + 30_000;
    while (!log.includes('chorus node started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(log).toContain('chorus node started');
    expect(existsSync(join(home, 'daemon.json'))).toBe(true);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    process.kill(-child.pid!, 'SIGINT'); // what the terminal does on Ctrl-C
    const code = await exited;
    expect(log).not.toContain('signal repeated');
    expect(code).toBe(0);
    expect(existsSync(join(home, 'daemon.json')), 'daemon.json left behind').toBe(false);
  });
});
