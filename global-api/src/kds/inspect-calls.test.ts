import { describe, expect, it } from 'vitest';
import type { InspectRequest } from '@ursa/proto/gen/kds.js';
import { InspectCallError, InspectCalls, MAX_IN_FLIGHT } from './inspect-calls.js';

const req = { what: 'xds', resourceType: 'Dataplane', mesh: 'default', name: 'web-1', format: '' };
const answer = (id: number) => ({ id, status: 200, contentType: 'application/json', body: Buffer.from('{}') });

describe('InspectCalls: the global side of forwarded requests on one session', () => {
  it('matches answers by id, in any order, and drops answers nobody waits for', async () => {
    const calls = new InspectCalls();
    const sent: InspectRequest[] = [];
    const a = calls.ask(req, (r) => sent.push(r), 10_000);
    const b = calls.ask({ ...req, name: 'web-2' }, (r) => sent.push(r), 10_000);
    expect(sent.map((s) => s.id)).toEqual([1, 2]);
    calls.settle({ ...answer(2), body: Buffer.from('"b"') });
    calls.settle({ ...answer(1), body: Buffer.from('"a"') });
    calls.settle(answer(99));
    expect((await a).body.toString()).toBe('"a"');
    expect((await b).body.toString()).toBe('"b"');
  });

  it('fails a silent zone after the timeout, refuses more than MAX_IN_FLIGHT, and fails everyone when the session ends', async () => {
    const calls = new InspectCalls();
    await expect(calls.ask(req, () => {}, 20)).rejects.toMatchObject({ reason: 'timeout' });
    const waiting = Array.from({ length: MAX_IN_FLIGHT }, () => calls.ask(req, () => {}, 60_000));
    await expect(calls.ask(req, () => {}, 60_000)).rejects.toMatchObject({ reason: 'busy' });
    calls.end('session ended');
    for (const w of waiting) await expect(w).rejects.toBeInstanceOf(InspectCallError);
    await expect(calls.ask(req, () => {}, 60_000)).rejects.toMatchObject({ reason: 'ended' });
  });
});
