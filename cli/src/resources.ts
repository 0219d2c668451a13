/** `get`, `apply` and `delete`: any resource type of the descriptor table, over the CRUD API. */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { ResourceDescriptor } from '@ursa/proto';
import { type Client, type List } from './client.js';
import { UsageError } from './errors.js';
import { ago, document, type Format, table } from './output.js';
import { collectionPath, descriptorForKind, itemPath, resolveType } from './types.js';

type Item = Record<string, unknown>;

export interface GetOptions {
  readonly mesh: string;
  readonly output: Format;
  readonly size?: number;
  readonly offset?: number;
}

export async function get(client: Client, typeName: string, name: string | undefined, opts: GetOptions): Promise<string> {
  const d = resolveType(typeName);
  if (name !== undefined) {
    const item = await client.get<Item>(itemPath(d, opts.mesh, name));
    return opts.output === 'table' ? rowsTable(d, [item]) : document(item, opts.output);
  }
  const query = new URLSearchParams();
  if (opts.size !== undefined) query.set('size', String(opts.size));
  if (opts.offset !== undefined) query.set('offset', String(opts.offset));
  const qs = query.size > 0 ? `?${query}` : '';
  const list = await client.get<List<Item>>(`${collectionPath(d, opts.mesh)}${qs}`);
  if (opts.output !== 'table') return document(list, opts.output);
  return list.items.length === 0 ? `No resources found${d.scope === 'mesh' ? ` in mesh ${opts.mesh}` : ''}.` : rowsTable(d, list.items);
}

/** kumactl's `get` columns: MESH (mesh-scoped types), NAME, TYPE, AGE; a policy adds its target. */
function rowsTable(d: ResourceDescriptor, items: readonly Item[]): string {
  const mesh = d.scope === 'mesh';
  const headers = [...(mesh ? ['MESH'] : []), 'NAME', 'TYPE', ...(d.isPolicy ? ['TARGETREF KIND', 'TARGETREF NAME'] : []), 'AGE'];
  const rows = items.map((i) => {
    const target = ((i.spec as Item | undefined)?.targetRef ?? {}) as Item;
    return [...(mesh ? [i.mesh] : []), i.name, i.type, ...(d.isPolicy ? [target.kind ?? 'Mesh', target.name] : []), ago(i.creationTime).replace(/ ago$/, '')];
  });
  return table(headers, rows);
}

export interface ApplyOptions {
  readonly file: string;
  readonly dryRun: boolean;
  readonly vars: Readonly<Record<string, string>>;
  readonly stdin: () => Promise<string>;
  readonly progress: (line: string) => void;
}

/** kumactl's `--var key=value`: replaces `{{ key }}` (spaces optional) in the file before it is parsed. */
export function substitute(text: string, vars: Readonly<Record<string, string>>): string {
  const missing = new Set<string>();
  const out = text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g, (whole, key: string) => {
    if (key in vars) return vars[key]!;
    missing.add(key);
    return whole;
  });
  if (missing.size > 0) throw new UsageError(`the file uses ${[...missing].map((k) => `{{ ${k} }}`).join(', ')}: give --var ${[...missing][0]}=VALUE`);
  return out;
}

export function parseVars(pairs: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var: "${p}" is not KEY=VALUE`);
    vars[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return vars;
}

interface Planned {
  readonly d: ResourceDescriptor;
  readonly mesh: string;
  readonly name: string;
  readonly body: Item;
}

/** Reads, substitutes and checks every document first: a bad fourth document applies none. */
export async function planApply(opts: Pick<ApplyOptions, 'file' | 'vars' | 'stdin'>): Promise<Planned[]> {
  let text: string;
  try {
    text = opts.file === '-' ? await opts.stdin() : await readFile(opts.file, 'utf8');
  } catch (err) {
    throw new UsageError(`-f: cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const docs = parseAllDocuments(substitute(text, opts.vars));
  const out: Planned[] = [];
  (Array.isArray(docs) ? docs : [docs]).forEach((doc, i) => {
    const at = `document ${i + 1}`;
    if (doc.errors.length > 0) throw new UsageError(`${opts.file}: ${at} is not valid YAML or JSON: ${doc.errors[0]!.message.split('\n')[0]}`);
    const body = doc.toJS() as unknown;
    if (body === null || body === undefined) return; // an empty document (`---` at the end)
    if (typeof body !== 'object' || Array.isArray(body)) throw new UsageError(`${opts.file}: ${at} is not an object`);
    const item = body as Item;
    if (typeof item.type !== 'string') throw new UsageError(`${opts.file}: ${at}: "type" is required (e.g. type: Mesh)`);
    const d = descriptorForKind(item.type);
    if (!d) throw new UsageError(`${opts.file}: ${at}: unknown type "${item.type}"`);
    if (typeof item.name !== 'string' || item.name === '') throw new UsageError(`${opts.file}: ${at}: "name" is required`);
    if (d.scope === 'mesh' && (typeof item.mesh !== 'string' || item.mesh === '')) throw new UsageError(`${opts.file}: ${at}: "mesh" is required for ${d.kind}`);
    out.push({ d, mesh: (item.mesh as string | undefined) ?? '', name: item.name, body: item });
  });
  if (out.length === 0) throw new UsageError(`${opts.file}: no resources to apply`);
  return out;
}

export async function apply(client: Client, opts: ApplyOptions): Promise<string> {
  const planned = await planApply(opts);
  if (opts.dryRun) return planned.map((p) => document(p.body, 'yaml')).join('\n---\n');
  const lines: string[] = [];
  for (const [i, p] of planned.entries()) {
    const res = await client.request('PUT', itemPath(p.d, p.mesh, p.name), p.body);
    const what = `${p.d.kind} "${p.name}"${p.d.scope === 'mesh' ? ` in mesh ${p.mesh}` : ''} ${res.status === 201 ? 'created' : 'updated'}`;
    // Progress for long applies: each resource as it lands, on stderr, so stdout stays the summary.
    if (planned.length > 1) opts.progress(`[${i + 1}/${planned.length}] ${what}`);
    // The control plane's warnings (a dropped unknown field, a deprecated name), on stderr as kubectl does.
    const warnings = (res.body as { warnings?: unknown } | undefined)?.warnings;
    if (Array.isArray(warnings)) for (const w of warnings) opts.progress(`Warning: ${p.d.kind} "${p.name}": ${String(w)}`);
    lines.push(what);
  }
  return lines.join('\n');
}

export async function remove(client: Client, typeName: string, name: string, mesh: string): Promise<string> {
  const d = resolveType(typeName);
  await client.request('DELETE', itemPath(d, mesh, name));
  return `deleted ${d.kind} "${name}"${d.scope === 'mesh' ? ` in mesh ${mesh}` : ''}`;
}

export { resolveType };
