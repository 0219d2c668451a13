/**
 * Checks every field a zone sends (WebSocket frames, long-poll and push requests) before anything reaches
 * the database, so a zone's mistake is a KdsError naming the field (`bad-frame`: a 400 on HTTP, an Error
 * frame then a close on a WebSocket), never a driver error, a 500, or SQL text in an Error frame.
 *
 * What is bounded, and why:
 * - text the global stores or queries with (names, kinds, the hello's report fields) must be storable
 *   (`textProblem`: no U+0000, no unpaired surrogate) and short;
 * - the hello's report fields are kept in the zone's ZoneInsight (its last 10 subscriptions), so their
 *   bounds keep that insight well under MAX_RESOURCE_BYTES: 10 x (64 KiB config + 4 KiB error + ids);
 * - kinds named in rejections become per-kind counters in that insight: only known kinds;
 * - counts are bounded by the frame size (MAX_FRAME_BYTES) already.
 * Resources in an upward Delta are checked one by one by the session (a bad one is a rejection in the Ack,
 * the rest still applies); only their keys' shape is checked here.
 */
import type { Delta, Frame, Hello, PollRequest, PushRequest, Rejection, ResourceKey } from '@ursa/proto/gen/kds.js';
import { descriptorFor, textProblem } from '@ursa/proto';
import { isDnsLabel, KdsError } from '@ursa/core';

/** A zone token is a compact JWT of a few hundred characters. */
export const MAX_TOKEN_CHARS = 4096;
/** The zone's configuration (JSON) as reported in its hello, kept in its ZoneInsight. */
export const MAX_CONFIG_JSON_CHARS = 64 * 1024;
/** The zone's last error as reported in its hello: longer reports are cut, not refused. */
export const MAX_LAST_ERROR_CHARS = 4096;
/** Agent version, instance id, feature names, an Error frame's code. */
export const MAX_SHORT_TEXT_CHARS = 253;
export const MAX_FEATURES = 64;
/** A rejection's reason, and an Error frame's message. */
export const MAX_REASON_CHARS = 4096;
/** Kuma's limit for names (a DNS subdomain), for keys the zone names. */
const MAX_NAME_CHARS = 253;

const JWT_CHARS = /^[A-Za-z0-9_.-]*$/;

/** Checks a hello; cuts an over-long `last_error` (a report, not an identifier) in place. */
export function checkHello(hello: Hello, at = 'hello'): void {
  if (hello.tenant !== '' && !isDnsLabel(hello.tenant)) bad(`${at}.tenant`, `${quote(hello.tenant)} is not a valid tenant name (a lowercase DNS label, or empty)`);
  if (!isDnsLabel(hello.zone)) bad(`${at}.zone`, `${quote(hello.zone)} is not a valid zone name (a lowercase DNS label)`);
  if (hello.token.length > MAX_TOKEN_CHARS) bad(`${at}.token`, `must be at most ${MAX_TOKEN_CHARS} characters (a zone token from POST /tokens/zone)`);
  if (!JWT_CHARS.test(hello.token)) bad(`${at}.token`, 'is not a zone token (a JWT from POST /tokens/zone)');
  text(`${at}.agent_version`, hello.agentVersion, MAX_SHORT_TEXT_CHARS);
  text(`${at}.instance_id`, hello.instanceId, MAX_SHORT_TEXT_CHARS);
  if (hello.features.length > MAX_FEATURES) bad(`${at}.features`, `at most ${MAX_FEATURES} features are allowed`);
  hello.features.forEach((f, i) => text(`${at}.features[${i}]`, f, MAX_SHORT_TEXT_CHARS));
  text(`${at}.config_json`, hello.configJson, MAX_CONFIG_JSON_CHARS);
  if (hello.lastError.length > MAX_LAST_ERROR_CHARS) hello.lastError = `${hello.lastError.slice(0, MAX_LAST_ERROR_CHARS - 1)}…`;
  text(`${at}.last_error`, hello.lastError, MAX_LAST_ERROR_CHARS);
  revision(`${at}.last_revision`, hello.lastRevision);
  revision(`${at}.inventory_revision`, hello.inventoryRevision);
}

/** A long-poll request: its hello, where it resumes a snapshot, and the rejections it reports. */
export function checkPollRequest(req: PollRequest): asserts req is PollRequest & { hello: Hello } {
  if (!req.hello) throw new KdsError('bad-frame', 'poll request without hello');
  checkHello(req.hello);
  revision('snapshot_revision', req.snapshotRevision);
  if (req.snapshotAfter) {
    if (req.snapshotRevision === 0) bad('snapshot_after', 'is set without snapshot_revision (both name where a snapshot resumes)');
    key('snapshot_after', req.snapshotAfter, 'down');
  }
  rejections('rejections', req.rejections);
}

/** A push request: its hello and one inventory Delta. */
export function checkPushRequest(req: PushRequest): asserts req is PushRequest & { hello: Hello; delta: Delta } {
  if (!req.hello || !req.delta) throw new KdsError('bad-frame', 'push request needs hello and delta');
  checkHello(req.hello);
  checkDelta(req.delta);
}

/** A frame from a zone on a WebSocket (after `decodeFrame`, which guarantees a body). */
export function checkFrame(frame: Frame): void {
  const body = frame.body;
  switch (body?.$case) {
    case 'hello':
      checkHello(body.value);
      return;
    case 'delta':
      checkDelta(body.value);
      return;
    case 'ack':
      revision('ack.seq', body.value.seq);
      revision('ack.revision', body.value.revision);
      rejections('ack.rejections', body.value.rejections);
      return;
    case 'heartbeat':
      revision('heartbeat.revision', body.value.revision);
      return;
    case 'error':
      text('error.code', body.value.code, MAX_SHORT_TEXT_CHARS);
      text('error.message', body.value.message, MAX_REASON_CHARS);
      return;
    case 'inspectResponse':
      revision('inspect_response.id', body.value.id);
      if (body.value.status < 100 || body.value.status > 599) bad('inspect_response.status', `${body.value.status} is not an HTTP status (100 to 599)`);
      text('inspect_response.content_type', body.value.contentType, MAX_SHORT_TEXT_CHARS);
      return;
    default:
      return; // welcome: refused by the driver as out of place, with its own message
  }
}

/** An upward Delta: its numbers and the shape of every key (each resource itself is validated by the session). */
export function checkDelta(d: Delta, at = 'delta'): void {
  revision(`${at}.seq`, d.seq);
  revision(`${at}.revision`, d.revision);
  revision(`${at}.base_revision`, d.baseRevision);
  d.upserts.forEach((r, i) => {
    if (!r.key) bad(`${at}.upserts[${i}].key`, 'is missing');
    kind(`${at}.upserts[${i}].key.kind`, r.key.kind);
  });
  d.removals.forEach((k, i) => key(`${at}.removals[${i}]`, k, 'up'));
  if (d.snapshotAfter) key(`${at}.snapshot_after`, d.snapshotAfter, 'up');
}

function rejections(at: string, list: readonly Rejection[]): void {
  list.forEach((r, i) => {
    if (r.key && r.key.kind !== '') key(`${at}[${i}].key`, r.key, 'down');
    else if (r.key) {
      // A resource the zone could not read at all is reported with an empty key (counted under kind "").
      text(`${at}[${i}].key.mesh`, r.key.mesh, MAX_NAME_CHARS);
      text(`${at}[${i}].key.name`, r.key.name, MAX_NAME_CHARS);
    }
    text(`${at}[${i}].reason`, r.reason, MAX_REASON_CHARS);
  });
}

/**
 * A resource key the zone names. `down`: a key the global sent (its kind is known); `up`: a key of the
 * zone's inventory (its kind is checked against what zones may send by the session, with its own message).
 */
function key(at: string, k: ResourceKey, direction: 'up' | 'down'): void {
  if (direction === 'down') {
    const desc = descriptorFor(k.kind);
    if (!desc) bad(`${at}.kind`, `unknown resource type ${quote(k.kind)}`);
    if (desc.scope === 'global' && k.mesh !== '') bad(`${at}.mesh`, `must be empty: ${desc.kind} is not mesh-scoped`);
  } else {
    kind(`${at}.kind`, k.kind);
  }
  text(`${at}.mesh`, k.mesh, MAX_NAME_CHARS);
  text(`${at}.name`, k.name, MAX_NAME_CHARS);
}

function kind(at: string, k: string): void {
  text(at, k, MAX_SHORT_TEXT_CHARS);
}

function text(at: string, s: string, max: number): void {
  if (s.length > max) bad(at, `must be at most ${max} characters`);
  const p = textProblem(s);
  if (p) bad(at, p);
}

function revision(at: string, n: number): void {
  // The decoder refuses values past 2^53; anything else it hands over is a whole number.
  if (!Number.isSafeInteger(n) || n < 0) bad(at, 'must be a non-negative integer below 2^53');
}

function bad(field: string, message: string): never {
  throw new KdsError('bad-frame', `${field} ${message}`);
}

/** A zone-sent string in a message: JSON-quoted (control characters visible) and cut to a prefix. */
function quote(s: string): string {
  return JSON.stringify(s.length > 256 ? `${s.slice(0, 256)}…` : s);
}
