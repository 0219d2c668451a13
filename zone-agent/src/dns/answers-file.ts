/**
 * The resolver's answers, persisted: `<data dir>/dns-answers.json` holds every name of the current record
 * table with its address, mesh and service. A restarted agent answers from it before its database opens
 * (`main.ts`, `resolver.ts`) and hands over to the live table after the first rebuild (`component.ts`).
 * Answers a little stale are what an outage wants: the services and VIPs of the last run keep resolving
 * while the global is down and the agent restarts.
 *
 * Written only when the table changed, atomically (a temporary file, fsync, rename), so a crash leaves the
 * previous file or the new one, never half of one. A file that is missing, unreadable or not what this
 * module writes is ignored (the resolver then starts with the live table, as on a first start).
 *
 * Kept free of the store and of third-party modules: it is on the path that runs before the database opens.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@ursa/core/base';

export const ANSWERS_FILE = 'dns-answers.json';
const VERSION = 1;

export interface PersistedRecord {
  /** Lower-case, without the trailing dot. */
  readonly name: string;
  /** Dotted IPv4. */
  readonly ip: string;
  readonly mesh: string;
  readonly service: string;
}

export interface PersistedAnswers {
  readonly records: readonly PersistedRecord[];
  /** The file's text, so the writer skips rewriting an unchanged table. */
  readonly text: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** What the table may hold: printable ASCII without spaces, lower-case (the server asks in lower case). */
const NAME = /^[\x21-\x40\x5b-\x7e]{1,255}$/;

export const answersPath = (dataDir: string): string => join(dataDir, ANSWERS_FILE);

/** The file's text for `records` (sorted by name, so an unchanged table gives the same text). */
export function answersText(records: readonly PersistedRecord[]): string {
  const sorted = [...records].map(({ name, ip, mesh, service }) => ({ name, ip, mesh, service })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return `${JSON.stringify({ version: VERSION, records: sorted })}\n`;
}

/** Parses the file's text; throws with what is wrong (the caller logs it and ignores the file). */
export function parseAnswers(text: string): PersistedRecord[] {
  const doc = JSON.parse(text) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
  const { version, records } = doc as { version?: unknown; records?: unknown };
  if (version !== VERSION) throw new Error(`version ${JSON.stringify(version)}, expected ${VERSION}`);
  if (!Array.isArray(records)) throw new Error('records is not an array');
  return records.map((r: unknown, i) => {
    const rec = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    if (typeof rec.name !== 'string' || !NAME.test(rec.name)) throw new Error(`records[${i}].name is not a lower-case name of printable ASCII`);
    if (typeof rec.ip !== 'string' || !IPV4.test(rec.ip)) throw new Error(`records[${i}].ip is not an IPv4 address`);
    if (typeof rec.mesh !== 'string' || typeof rec.service !== 'string') throw new Error(`records[${i}]: mesh and service must be strings`);
    return { name: rec.name, ip: rec.ip, mesh: rec.mesh, service: rec.service };
  });
}

/** The persisted answers, or undefined when there are none to trust (no file yet, or a bad one: logged). */
export async function readAnswers(dataDir: string, log: Logger): Promise<PersistedAnswers | undefined> {
  const path = answersPath(dataDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}): the resolver starts once the database is open`);
    return undefined;
  }
  try {
    return { records: parseAnswers(text), text };
  } catch (err) {
    log.warn(`ignoring ${path}: ${(err as Error).message}; the resolver starts once the database is open`);
    return undefined;
  }
}

/** Writes the answers file when the table changed; one write at a time (the DNS rebuild loop runs one pass at a time). */
export class AnswersWriter {
  #last: string | undefined;

  /** `current`: the text already on disk (read at start), so an unchanged table is not written again. */
  constructor(
    private readonly dataDir: string,
    private readonly log: Logger,
    current?: string,
  ) {
    this.#last = current;
  }

  /** True when the file was (re)written. Never throws: a failed write is logged and tried again next time. */
  async write(records: readonly PersistedRecord[]): Promise<boolean> {
    const text = answersText(records);
    if (text === this.#last) return false;
    const path = answersPath(this.dataDir);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(text, 'utf8');
        // Durable before it replaces the old file: after a power loss, the old answers or the new, never none.
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      this.#last = text;
      return true;
    } catch (err) {
      this.log.warn(`cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}); a restart answers from the previous file until the database is open`);
      await unlink(tmp).catch(() => {});
      return false;
    }
  }
}
