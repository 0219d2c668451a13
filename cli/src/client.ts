/** The control plane's HTTP API as ursactl uses it: bearer token, JSON in and out, Kuma error bodies to one line. */
import type { ControlPlane } from './config.js';
import { describeErrorBody, RemoteError } from './errors.js';

export interface Response<T> {
  readonly status: number;
  readonly body: T;
}

export class Client {
  constructor(private readonly plane: ControlPlane) {}

  get address(): string {
    return this.plane.address;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, opts: { text?: boolean } = {}): Promise<Response<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.plane.authToken) headers.authorization = `Bearer ${this.plane.authToken}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: globalThis.Response;
    try {
      res = await fetch(`${this.plane.address}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RemoteError(`could not reach the control plane "${this.plane.name}" at ${this.plane.address}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) throw new RemoteError(describeErrorBody(res.status, text));
    if (opts.text) return { status: res.status, body: text as T };
    try {
      return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as T };
    } catch {
      throw new RemoteError(`${method} ${path}: the control plane answered ${res.status} with a body that is not JSON`);
    }
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path).then((r) => r.body);
  }
}

export interface List<T = Record<string, unknown>> {
  readonly total: number;
  readonly items: T[];
  readonly next: string | null;
}

/** Every page of a list (the API pages at most 1000 items; inspect commands show them all). */
export async function listAll<T = Record<string, unknown>>(client: Client, path: string): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; ) {
    const page = await client.get<List<T>>(`${path}${path.includes('?') ? '&' : '?'}size=1000&offset=${offset}`);
    out.push(...page.items);
    if (!page.next || page.items.length === 0) return out;
    offset += page.items.length;
  }
}
