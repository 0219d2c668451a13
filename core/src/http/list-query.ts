/**
 * Kuma's list query: `size` (default 100, max 1000), `offset` (an index), `name` (substring),
 * `filter[labels.<key>]=<value>`, and `tag=<key>:<value>` on types that have tags. Anything malformed is a
 * 400 naming the parameter; unknown parameters are ignored, as Kuma does. Filters are bounded in number
 * and length (each one is a condition, and a `like` or JSON-path scan, in the query).
 */
import type { Context } from 'hono';
import type { ResourceDescriptor } from '@ursa/proto';
import type { ListOptions } from '../store/resource-store.js';
import { ApiError } from './errors.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** Label filters and tag filters, each: no Kuma client sends more than a handful. */
export const MAX_FILTERS = 20;
/** Characters in `name` and in each filter's key and value (a label key is at most 317: prefix/name). */
export const MAX_FILTER_CHARS = 512;

export interface Page {
  readonly size: number;
  readonly offset: number;
}

export function parsePage(c: Context): Page {
  const sizeRaw = c.req.query('size');
  const offsetRaw = c.req.query('offset');
  let size = DEFAULT_PAGE_SIZE;
  if (sizeRaw !== undefined) {
    // Kuma's reasons, word for word.
    if (!/^-?[0-9]+$/.test(sizeRaw)) throw invalid('Invalid page size', 'size', 'invalid format');
    size = Number(sizeRaw);
    if (size <= 0) throw invalid('Invalid page size', 'size', 'must be greater than 0');
    if (size > MAX_PAGE_SIZE) throw invalid('Invalid page size', 'size', `invalid page size of ${size}. Maximum page size is ${MAX_PAGE_SIZE}`);
  }
  let offset = 0;
  if (offsetRaw !== undefined && offsetRaw !== '') {
    if (!/^[0-9]+$/.test(offsetRaw) || !Number.isSafeInteger(Number(offsetRaw))) {
      // Kuma's answer word for word (Go's strconv.Atoi text, no invalid_parameters); a long value is cut short.
      const shown = offsetRaw.length > 32 ? `${offsetRaw.slice(0, 32)}…` : offsetRaw;
      const integer = /^[+-]?[0-9]+$/.test(offsetRaw);
      const why = integer && offsetRaw.startsWith('-') ? 'must not be negative' : `strconv.Atoi: parsing ${JSON.stringify(shown)}: ${integer ? 'value out of range' : 'invalid syntax'}`;
      throw new ApiError(400, 'Could not retrieve resources', `invalid: invalid offset: ${why}`);
    }
    offset = Number(offsetRaw);
  }
  return { size, offset };
}

export function parseFilters(c: Context, desc: ResourceDescriptor): Omit<ListOptions, 'limit' | 'offset' | 'mesh'> {
  const url = new URL(c.req.url);
  // No prototype: `filter[labels.__proto__]=x` must be a filter on that key, not a write to the prototype
  // that drops the filter (and so lists everything).
  const labels: Record<string, string> = Object.create(null);
  const tags: { key: string; value: string }[] = [];
  let labelFilters = 0;
  for (const [key, value] of url.searchParams) {
    if (key.startsWith('filter[')) {
      const field = key.length > MAX_FILTER_CHARS + 16 ? `${key.slice(0, 64)}…` : key;
      const m = /^filter\[labels\.([^\]]+)\]$/.exec(key);
      if (!m) {
        // Kuma's answer: the field is named after the route (`/meshes/{mesh}/dataplanes.filter[...]`).
        const where = `${c.req.routePath.replace(/:([A-Za-z]+)/g, '{$1}')}.${field}`;
        const reason = /^filter\[labels\.[^\]]+\]\[/.test(key) ? 'advanced filters are not supported' : 'filters are only supported on labels';
        throw invalid('Resource is not valid', where, reason);
      }
      if (++labelFilters > MAX_FILTERS) throw invalid('Invalid filter', 'filter', `at most ${MAX_FILTERS} label filters are allowed`);
      checkLength('Invalid filter', field, m[1]!, 'the label key');
      checkLength('Invalid filter', field, value, 'the value');
      labels[m[1]!] = value;
    }
  }
  const tagParams = url.searchParams.getAll('tag');
  if (tagParams.length > MAX_FILTERS) throw invalid('Invalid tag filter', 'tag', `at most ${MAX_FILTERS} tag filters are allowed`);
  for (const t of tagParams) {
    const i = t.indexOf(':');
    if (i <= 0) throw invalid('Invalid tag filter', 'tag', 'must be <key>:<value>');
    checkLength('Invalid tag filter', 'tag', t.slice(0, i), 'the tag key');
    checkLength('Invalid tag filter', 'tag', t.slice(i + 1), 'the tag value');
    tags.push({ key: t.slice(0, i), value: t.slice(i + 1) });
  }
  if (tags.length > 0 && desc.tagPaths.length === 0) {
    throw invalid('Invalid tag filter', 'tag', `${desc.pluralDisplayName} have no tags to filter on`);
  }
  const name = c.req.query('name');
  if (name !== undefined) checkLength('Invalid name filter', 'name', name, 'the name');
  return { nameContains: name || undefined, labels, tags };
}

/** Kuma's `next`: the absolute URL of the following page, or null at the end. */
export function nextUrl(c: Context, page: Page, total: number): string | null {
  if (page.offset + page.size >= total) return null;
  const url = new URL(c.req.url);
  url.searchParams.set('offset', String(page.offset + page.size));
  url.searchParams.set('size', String(page.size));
  // Kuma builds `next` with Go's url.Values.Encode, which orders parameters by name: `?offset=2&size=2`.
  url.searchParams.sort();
  return url.toString();
}

function checkLength(detail: string, field: string, text: string, what: string): void {
  if (text.length > MAX_FILTER_CHARS) throw invalid(detail, field, `${what} must be at most ${MAX_FILTER_CHARS} characters`);
}

function invalid(detail: string, field: string, reason: string): ApiError {
  // Kuma's title for a list it could not serve.
  return new ApiError(400, 'Could not retrieve resources', detail, [{ field, reason, source: 'query' }]);
}
