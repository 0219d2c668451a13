/**
 * The control planes ursactl knows, kept in `~/.ursactl/config.yaml` (or `$URSACTL_CONFIG`), like kumactl's
 * `~/.kumactl/config`: a list of named control planes (address, optional API token) and the current one.
 * With no file, the current control plane is `local` at http://127.0.0.1:5681 (kumactl's default).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { UsageError } from './errors.js';

export interface ControlPlane {
  readonly name: string;
  readonly address: string;
  readonly authToken?: string;
}

export interface CliConfig {
  controlPlanes: ControlPlane[];
  current: string;
}

export const DEFAULT_CONFIG: CliConfig = { controlPlanes: [{ name: 'local', address: 'http://127.0.0.1:5681' }], current: 'local' };

export const configPath = (env: NodeJS.ProcessEnv = process.env): string => env.URSACTL_CONFIG || join(homedir(), '.ursactl', 'config.yaml');

export async function loadConfig(path = configPath()): Promise<CliConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(DEFAULT_CONFIG);
    throw err;
  }
  const doc = parse(text) as Partial<CliConfig> | null;
  const planes = Array.isArray(doc?.controlPlanes) ? doc.controlPlanes.filter((p) => typeof p?.name === 'string' && typeof p?.address === 'string') : [];
  return { controlPlanes: planes, current: typeof doc?.current === 'string' ? doc.current : (planes[0]?.name ?? '') };
}

export async function saveConfig(config: CliConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Written aside and renamed: a crash never leaves a half-written file. 0600: it may hold API tokens.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, stringify(config), { mode: 0o600 });
  await rename(tmp, path);
}

export function currentPlane(config: CliConfig): ControlPlane {
  const plane = config.controlPlanes.find((p) => p.name === config.current);
  if (!plane) throw new UsageError(`no current control plane: add one with "ursactl config control-planes add --name NAME --address URL"`);
  return plane;
}

/** An http(s) URL without a trailing slash, or a usage error naming the flag. */
export function checkAddress(address: string): string {
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    throw new UsageError(`--address: "${address}" is not a URL (expected http://host:port)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('--address: must be an http:// or https:// URL');
  return address.replace(/\/+$/, '');
}
