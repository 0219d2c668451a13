/** Printing: tables as kumactl's (upper-case headers, no borders), YAML and JSON as the API serves them. */
import Table from 'cli-table3';
import { stringify } from 'yaml';
import { UsageError } from './errors.js';

export type Format = 'table' | 'yaml' | 'json';
export const FORMATS: readonly Format[] = ['table', 'yaml', 'json'];

export function parseFormat(v: string): Format {
  if (!(FORMATS as readonly string[]).includes(v)) throw new UsageError(`-o/--output: must be one of: ${FORMATS.join(', ')}`);
  return v as Format;
}

export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const t = new Table({
    head: [...headers],
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const r of rows) t.push(r.map((c) => (c === undefined || c === null || c === '' ? '-' : String(c))));
  return t.toString().split('\n').map((l) => l.trimEnd()).join('\n');
}

export function document(value: unknown, format: Exclude<Format, 'table'>): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : stringify(value).trimEnd();
}

/** `3m12s ago`-style ages as kumactl prints them (`never` when there is no time). */
export function ago(iso: unknown, now = Date.now()): string {
  if (typeof iso !== 'string' || iso === '') return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'never';
  return `${duration(Math.max(0, now - t))} ago`;
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}
