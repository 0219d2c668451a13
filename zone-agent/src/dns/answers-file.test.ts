/** The persisted answers: written only when changed and atomically, read back, a bad file ignored; the resolver swaps from them to the live table. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dnsPacket from 'dns-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '@ursa/core';
import { ANSWERS_FILE, AnswersWriter, answersText, parseAnswers, readAnswers } from './answers-file.js';
import { createResolver } from './resolver.js';
import { query, udpExchange } from './testing.js';

const records = [
  { name: 'web.mesh', ip: '240.0.0.2', mesh: 'default', service: 'web' },
  { name: 'backend.mesh', ip: '240.0.0.1', mesh: 'default', service: 'backend' },
];

describe('persisted DNS answers', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ursa-answers-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips, sorted by name, and rewrites only a changed table', async () => {
    const lines: string[] = [];
    const writer = new AnswersWriter(dir, memoryLogger(lines));
    expect(await writer.write(records)).toBe(true);
    const first = await stat(join(dir, ANSWERS_FILE));
    const read = await readAnswers(dir, memoryLogger(lines));
    expect(read?.records.map((r) => r.name)).toEqual(['backend.mesh', 'web.mesh']);
    expect(read?.text).toBe(answersText(records));
    // The same table in another order: nothing written (the file keeps its inode).
    expect(await writer.write([...records].reverse())).toBe(false);
    // A writer started on what a restart read does not rewrite it either.
    expect(await new AnswersWriter(dir, memoryLogger(lines), read!.text).write(records)).toBe(false);
    expect(await writer.write(records.slice(0, 1))).toBe(true);
    const second = await stat(join(dir, ANSWERS_FILE));
    // Replaced by a rename, not rewritten in place; no temporary file left behind.
    expect(second.ino).not.toBe(first.ino);
    expect(await readdir(dir)).toEqual([ANSWERS_FILE]);
    expect(parseAnswers(await readFile(join(dir, ANSWERS_FILE), 'utf8'))).toEqual(records.slice(0, 1));
    expect(lines).toEqual([]);
  });

  it('ignores a missing file silently and a bad one with a warning naming what is wrong', async () => {
    const lines: string[] = [];
    expect(await readAnswers(dir, memoryLogger(lines))).toBeUndefined();
    expect(lines).toEqual([]);
    for (const [text, why] of [
      ['{"version":1,"records":[{"name":"web.mesh","ip":"240.0.0.300","mesh":"default","service":"web"}]}', 'records[0].ip is not an IPv4 address'],
      ['{"version":1,"records":[{"name":"Web.mesh","ip":"240.0.0.3","mesh":"default","service":"web"}]}', 'records[0].name is not a lower-case name'],
      ['{"version":2,"records":[]}', 'version 2, expected 1'],
      ['{"version":1,"rec', 'JSON'],
      ['', 'JSON'],
    ] as const) {
      lines.length = 0;
      await writeFile(join(dir, ANSWERS_FILE), text);
      expect(await readAnswers(dir, memoryLogger(lines)), text).toBeUndefined();
      expect(lines.join('\n'), text).toContain(why);
      expect(lines.join('\n')).toContain('the resolver starts once the database is open');
    }
  });

  it('the resolver answers from the persisted answers, then from the live table it is handed', async () => {
    const lines: string[] = [];
    const resolver = await createResolver({ dnsHost: '127.0.0.1', dnsPort: 0, dnsUpstream: '127.0.0.1:9', vipCidr: '240.0.0.0/4' }, memoryLogger(lines), { upstreamTimeoutMs: 200 });
    try {
      expect(resolver.source).toBeUndefined();
      await resolver.serve(records, 'persisted');
      expect(resolver.source).toBe('persisted');
      const ask = async (name: string) => {
        const res = await udpExchange(resolver.port!, query(name));
        if (!res) throw new Error(`no answer for ${name}`);
        return (dnsPacket.decode(res).answers ?? []).map((a) => (a.type === 'A' ? a.data : a.type));
      };
      expect(await ask('backend.mesh')).toEqual(['240.0.0.1']);
      expect(await ask('WEB.Mesh')).toEqual(['240.0.0.2']);
      await resolver.serve([{ name: 'live.mesh', ip: '240.0.0.9' }], 'live');
      expect(resolver.source).toBe('live');
      expect(await ask('live.mesh')).toEqual(['240.0.0.9']);
      // Gone from the live table: forwarded (the upstream, port 9, does not answer: SERVFAIL, no record).
      expect(await ask('backend.mesh')).toEqual([]);
      expect(lines.join('\n')).toMatch(/answering from the last run's persisted answers[\s\S]*resolver answers from the database now/);
    } finally {
      await resolver.close();
    }
  });
  it('the resolver answers while the main thread is busy (its own thread)', async () => {
    const resolver = await createResolver({ dnsHost: '127.0.0.1', dnsPort: 0, dnsUpstream: '127.0.0.1:9', vipCidr: '240.0.0.0/4' }, memoryLogger([]));
    try {
      await resolver.serve(records, 'persisted');
      // A client in another process asks while this thread is blocked (spawnSync), as PGlite's start-up blocks the agent's.
      const client = `const s = require('node:dgram').createSocket('udp4'); s.on('message', (m) => { process.stdout.write(m.toString('hex')); process.exit(0); }); s.send(Buffer.from('${query('backend.mesh', 'A', { id: 7 }).toString('hex')}', 'hex'), ${resolver.port}, '127.0.0.1'); setTimeout(() => process.exit(1), 2000);`;
      const out = execFileSync(process.execPath, ['-e', client], { encoding: 'utf8' });
      const answers = dnsPacket.decode(Buffer.from(out, 'hex')).answers ?? [];
      expect(answers.map((a) => (a.type === 'A' ? a.data : a.type))).toEqual(['240.0.0.1']);
    } finally {
      await resolver.close();
    }
  });
});
