/**
 * Kuma's list query: `size` (default 100, max 1000), `offset` (an index), `name` (substring),
 * `filter[labels.<key>]=<value>`, and `tag=<key>:<value>` on types that have tags. Anything malformed is a
 * 400 naming the parameter; unknown parameters are ignored, as Kuma does.
 */
import type { Context } from 'hono';
import type { ResourceDescriptor } from '@ursa/proto';
import type { ListOptions } from '../store/resource-store.js';
import { ApiError } from './errors.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface Page {
  readonly size: number;
  readonly offset: number;
}

export function parsePage(c: Context): Page {
  const sizeRaw = c.req.query('size');
  const offsetRaw = c.req.query('offset');
  let size = DEFAULT_PAGE_SIZE;
  if (sizeRaw !== undefined) {
    if (!/^-?[0-9]+$/.test(sizeRaw)) throw invalid('Invalid page size', 'size', 'must be an integer');
    size = Number(sizeRaw);
    if (size <= 0) throw invalid('Invalid page size', 'size', 'must be greater than 0');
    if (size > MAX_PAGE_SIZE) throw invalid('Invalid page size', 'size', `must be less than or equal to ${MAX_PAGE_SIZE}`);
  }
  let offset = 0;
  if (offsetRaw !== undefined && offsetRaw !== '') {
    if (!/^[0-9]+$/.test(offsetRaw) || !Number.isSafeInteger(Number(offsetRaw))) {
      throw invalid(`invalid offset: ${offsetRaw}`, 'offset', 'must be a non-negative integer');
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
  for (const [key, value] of url.searchParams) {
    if (key.startsWith('filter[')) {
      const m = /^filter\[labels\.(.+)\]$/.exec(key);
      if (!m) throw invalid('Invalid filter', key, 'only filter[labels.<key>]=<value> is supported');
      labels[m[1]!] = value;
    }
  }
  for (const t of url.searchParams.getAll('tag')) {
    const i = t.indexOf(':');
    if (i <= 0) throw invalid('Invalid tag filter', 'tag', 'must be <key>:<value>');
    tags.push({ key: t.slice(0, i), value: t.slice(i + 1) });
  }
  if (tags.length > 0 && desc.tagPaths.length === 0) {
    throw invalid('Invalid tag filter', 'tag', `${desc.pluralDisplayName} have no tags to filter on`);
  }
  const name = c.req.query('name');
  return { nameContains: name || undefined, labels, tags };
}

/** Kuma's `next`: the absolute URL of the following page, or null at the end. */
export function nextUrl(c: Context, page: Page, total: number): string | null {
  if (page.offset + page.size >= total) return null;
  const url = new URL(c.req.url);
  url.searchParams.set('offset', String(page.offset + page.size));
  url.searchParams.set('size', String(page.size));
  return url.toString();
}

function invalid(detail: string, field: string, reason: string): ApiError {
  return new ApiError(400, 'Bad Request', detail, [{ field, reason, source: 'query' }]);
}
