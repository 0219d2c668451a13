/**
 * For tests: a global plane in memory behind the transport interface, driven by the test frame by frame.
 * No network: what the KdsClient sends is recorded per connection, and what the test has the peer say is
 * delivered exactly as an adapter would (in order, then the end of the connection).
 */
import type { Delta, Frame, Hello, Rejection, Welcome } from '@ursa/proto/gen/kds.js';
import { type FrameSink, type KdsConnection, type KdsTransport, SessionEnded } from './transport.js';

type Case = NonNullable<Frame['body']>['$case'];
type BodyOf<C extends Case> = Extract<NonNullable<Frame['body']>, { $case: C }>['value'];

/** Polls `check` every 10 ms until it returns a value, failing with `what` after `ms`. */
async function waitFor<T>(what: string, check: () => T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export class FakeConnection implements KdsConnection {
  /** Frames the zone sent, in order (its Hello first, once `hello()` resolved). */
  readonly sent: Frame[] = [];
  /** Set when the zone closed the connection, with the reason it gave. */
  closedBy?: string;
  /** Set when the peer ended it (`drop`). */
  droppedAt?: number;
  readonly openedAt = Date.now();
  /** When the connection ended, either way (the zone noticed, or the peer dropped it). */
  endedAt?: number;
  #downSeq = 0;

  constructor(
    hello: () => Promise<Hello>,
    private readonly sink: FrameSink,
  ) {
    // As the WebSocket adapter: the Hello goes out once connected; a failure to build it ends the connection.
    hello().then(
      (h) => this.sent.push({ body: { $case: 'hello', value: h } }),
      (err: Error) => this.#end(err),
    );
  }

  get ended(): boolean {
    return this.endedAt !== undefined;
  }

  send(frame: Frame): void {
    if (!this.ended) this.sent.push(frame);
  }

  async close(reason: string): Promise<void> {
    this.closedBy ??= reason;
    this.endedAt ??= Date.now();
  }

  // --- what the test has the global say ---------------------------------------------------------------

  welcome(w: Partial<Welcome> = {}): void {
    this.#say({ $case: 'welcome', value: { globalInstanceId: 'fake-global', features: [], revision: 0, snapshot: false, heartbeatIntervalMs: 5000, inventoryRevision: 0, sessionId: 'fake-session', ...w } });
  }

  /** A Delta down, numbered by the peer (1, 2, ... per connection) unless `seq` is given. */
  delta(d: Partial<Delta>): number {
    const seq = d.seq ?? ++this.#downSeq;
    this.#say({ $case: 'delta', value: { seq, upserts: [], removals: [], revision: 0, baseRevision: 0, snapshot: false, complete: true, ...d } });
    return seq;
  }

  ack(seq: number, revision: number, rejections: Rejection[] = []): void {
    this.#say({ $case: 'ack', value: { seq, revision, rejections } });
  }

  heartbeat(revision: number): void {
    this.#say({ $case: 'heartbeat', value: { revision } });
  }

  error(code: string, message: string): void {
    this.#say({ $case: 'error', value: { code, message } });
  }

  /** The global goes away (the socket closes under the zone). */
  drop(reason = 'connection closed (1006)'): void {
    this.droppedAt = Date.now();
    this.#end(new SessionEnded(reason));
  }

  // --- what the zone said -------------------------------------------------------------------------------

  /** Frames of one kind the zone sent so far. */
  sentOf<C extends Case>(c: C): BodyOf<C>[] {
    return this.sent.flatMap((f) => (f.body?.$case === c ? [f.body.value as BodyOf<C>] : []));
  }

  /** Waits for the `n`th (1-based) frame of kind `c` the zone sends. */
  nth<C extends Case>(c: C, n = 1, ms = 5000): Promise<BodyOf<C>> {
    return waitFor(`frame ${c} #${n} from the zone`, () => this.sentOf(c)[n - 1], ms);
  }

  /** Waits until the zone closes the connection (or it ended otherwise). */
  async whenEnded(ms = 5000): Promise<void> {
    await waitFor('the connection to end', () => (this.ended ? true : undefined), ms);
  }

  #say(body: NonNullable<Frame['body']>): void {
    if (this.ended) throw new Error(`the connection ended (${this.closedBy ?? 'dropped'}): cannot send ${body.$case}`);
    this.sink.frame({ body });
  }

  #end(err: Error): void {
    if (this.ended) return;
    this.endedAt = Date.now();
    this.sink.end(err);
  }
}

export class FakeGlobal implements KdsTransport {
  readonly connections: FakeConnection[] = [];

  constructor(readonly name: 'ws' | 'poll' = 'ws') {}

  open(hello: () => Promise<Hello>, sink: FrameSink): KdsConnection {
    const c = new FakeConnection(hello, sink);
    this.connections.push(c);
    return c;
  }

  /** Waits for the `n`th (1-based) connection the zone opens, and for its Hello. */
  async connection(n: number, ms = 5000): Promise<{ conn: FakeConnection; hello: Hello }> {
    const conn = await waitFor(`connection #${n}`, () => this.connections[n - 1], ms);
    const hello = await conn.nth('hello', 1, ms);
    return { conn, hello };
  }
}
