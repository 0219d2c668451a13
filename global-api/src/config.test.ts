import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, parseConfig } from './config.js';

const parse = (argv: string[], env: Record<string, string> = {}) => {
  const r = parseConfig(argv, env);
  if (r.help) throw new Error('unexpected help');
  return r.config;
};

describe('global config', () => {
  it('has defaults that serve on 127.0.0.1:5681 with data under ./.ursa', () => {
    const c = parse([]);
    expect(c).toMatchObject({ host: '127.0.0.1', port: 5681, defaultTenant: 'default', logLevel: 'info' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toBe(`${process.cwd()}/.ursa`);
  });

  it('reads URSA_* variables, DATABASE_URL, and lets flags win', () => {
    const c = parse(['--port=7000', '--log-level', 'debug'], { URSA_PORT: '6000', URSA_HOST: '0.0.0.0', DATABASE_URL: 'postgres://u:p@h/db' });
    expect(c).toMatchObject({ port: 7000, host: '0.0.0.0', logLevel: 'debug', databaseUrl: 'postgres://u:p@h/db' });
  });

  it('names the flag or variable in errors', () => {
    expect(() => parse(['--port', '99999'])).toThrow(new ConfigError('--port: must be a port number between 0 and 65535'));
    expect(() => parse([], { URSA_LOG_LEVEL: 'loud' })).toThrow('URSA_LOG_LEVEL: must be one of: debug, info, warn, error');
    expect(() => parse(['--database-url', 'mysql://x'])).toThrow('--database-url: must be a postgres:// or postgresql:// URL');
    expect(() => parse(['--nope'])).toThrow('unknown flag --nope');
    expect(() => parse(['--port'])).toThrow('flag --port needs a value');
  });

  it('takes CORS origins as a comma-separated list (none by default), refusing anything but an origin', () => {
    expect(parse([]).corsOrigins).toEqual([]);
    expect(parse(['--cors-origins', 'https://gui.example.com, http://localhost:5681/'], { URSA_CORS_ORIGINS: 'https://ignored.example' }).corsOrigins).toEqual(['https://gui.example.com', 'http://localhost:5681']);
    expect(() => parse(['--cors-origins', 'https://gui.example.com/path'])).toThrow('--cors-origins: "https://gui.example.com/path" is not an origin (scheme://host[:port], no path)');
    expect(() => parse([], { URSA_CORS_ORIGINS: 'gui.example.com' })).toThrow('URSA_CORS_ORIGINS: "gui.example.com" is not an origin');
  });

  it('masks secrets when printing', () => {
    const line = describeConfig(parse([], { DATABASE_URL: 'postgres://ursa:s3cret@db:5432/ursa' }));
    expect(line).toContain('databaseUrl=postgres://ursa:****@db:5432/ursa');
    expect(line).not.toContain('s3cret');
  });
});
