/**
 * Forwarded inspect requests across global replicas on PostgreSQL (Kuma does this with its inter-CP gRPC
 * server, `pkg/intercp/envoyadmin`; Ursa's replicas share only the database, so the database carries it):
 * - the asking replica NOTIFYs `ursa_kds_relay` with the question, addressed to the instance holding the
 *   zone's session (`zone_sessions.global_instance_id`);
 * - that replica asks its zone (`askHere`), writes the answer (or Kuma's error) to `kds_relay_answers` and
 *   NOTIFYs "done" back to the asker, which deletes the row as it reads it;
 * - an asker that hears nothing in time answers 504; answers nobody collected are swept after a minute.
 * Every replica LISTENs on its existing dedicated connection (postgres.js), so this costs no connection.
 * A question is a few hundred bytes (NOTIFY payloads may be 8,000); the answer, up to the zone's 8 MiB, is a row.
 * Not on PGlite (one process: there is no other replica) nor on Workers (no LISTEN through Hyperdrive).
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import type { InspectRequest, InspectResponse } from '@ursa/proto/gen/kds.js';
import { ApiError, type Database, errorText, type Logger } from '@ursa/core';
import { kdsRelayAnswers } from '@ursa/core/schema';
import { askHere, type RemoteAsker } from './forward.js';
import type { StreamTracker } from './ws.js';

export const RELAY_CHANNEL = 'ursa_kds_relay';
/** Content type marking a relayed Kuma error (`{title, detail}`) rather than the zone's answer. */
const RELAYED_ERROR = 'application/x-ursa-relayed-error';
/** Margin over the holder's own wait for the zone: database round trips on both sides. */
const RELAY_MARGIN_MS = 5000;
const SWEEP_AFTER_MS = 60_000;

type Question = { t: 'ask'; to: string; from: string; id: string; tenant: string; zone: string; req: Omit<InspectRequest, 'id'>; timeoutMs: number };
type Done = { t: 'done'; to: string; id: string };

export async function startRelay(database: Database, instanceId: string, tracker: StreamTracker, log: Logger): Promise<RemoteAsker & { close(): Promise<void> }> {
  const { db } = database;
  const waiting = new Map<string, () => void>();
  const notify = (m: Question | Done) => db.execute(sql`select pg_notify(${RELAY_CHANNEL}, ${JSON.stringify(m)})`);

  const answer = async (q: Question) => {
    let row: { status: number; contentType: string; body: string };
    try {
      const r = await askHere(tracker, q.tenant, q.zone, q.req, q.timeoutMs);
      row = { status: r.status, contentType: r.contentType, body: new TextDecoder().decode(r.body) };
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, 'Could not execute admin operation', 'the global instance holding the zone\'s session failed to ask it');
      if (!(err instanceof ApiError)) log.error('relayed inspect request failed', { zone: q.zone, error: errorText(err) });
      row = { status: e.status, contentType: RELAYED_ERROR, body: JSON.stringify({ title: e.title, detail: e.detail }) };
    }
    try {
      await db.insert(kdsRelayAnswers).values({ id: q.id, tenantId: q.tenant, ...row }).onConflictDoNothing();
      await notify({ t: 'done', to: q.from, id: q.id });
    } catch (err) {
      log.error('writing a relayed inspect answer failed', { zone: q.zone, error: errorText(err) });
    }
  };

  if (!database.listen) throw new Error(`the ${database.backend} database cannot LISTEN`);
  const unlisten = await database.listen(RELAY_CHANNEL, (payload) => {
    let m: Question | Done;
    try {
      m = JSON.parse(payload) as Question | Done;
    } catch {
      return;
    }
    if (m.to !== instanceId) return;
    if (m.t === 'done') waiting.get(m.id)?.();
    else if (m.t === 'ask') void answer(m);
  });

  return {
    async ask(tenant, zone, holder, req, timeoutMs) {
      const id = crypto.randomUUID();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const heard = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs + RELAY_MARGIN_MS);
        waiting.set(id, () => resolve(true));
      });
      try {
        await db.delete(kdsRelayAnswers).where(lt(kdsRelayAnswers.answeredAt, new Date(Date.now() - SWEEP_AFTER_MS)));
        await notify({ t: 'ask', to: holder, from: instanceId, id, tenant, zone, req, timeoutMs });
        const ok = await heard;
        const [row] = await db.delete(kdsRelayAnswers).where(and(eq(kdsRelayAnswers.id, id), eq(kdsRelayAnswers.tenantId, tenant))).returning();
        if (!ok || !row) {
          throw new ApiError(504, 'Could not execute admin operation', `no answer from the global instance ${holder}, which holds zone ${zone}'s session, within ${Math.round((timeoutMs + RELAY_MARGIN_MS) / 1000)} s`);
        }
        if (row.contentType === RELAYED_ERROR) {
          const e = JSON.parse(row.body) as { title: string; detail: string };
          throw new ApiError(row.status as 400, e.title, e.detail);
        }
        return { id: 0, status: row.status, contentType: row.contentType, body: Buffer.from(row.body, 'utf8') } satisfies InspectResponse;
      } finally {
        clearTimeout(timer);
        waiting.delete(id);
      }
    },
    close: unlisten,
  };
}
