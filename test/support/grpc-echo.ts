/**
 * Real gRPC endpoints and a real xDS client for the xDS end-to-end tests: echo servers on 127.0.0.1 that
 * answer every call with their own id (so a client sees where its calls went), and `@grpc/grpc-js-xds`
 * clients dialing `xds:///<service>` through a zone agent.
 */
import * as grpc from '@grpc/grpc-js';

const ECHO_PATH = '/ursa.test.Echo/Echo';
const identity = (b: Buffer) => b;
const EchoService: grpc.ServiceDefinition = {
  Echo: { path: ECHO_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};

export interface EchoServer {
  readonly id: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startEcho(id: string): Promise<EchoServer> {
  const server = new grpc.Server();
  server.addService(EchoService, { Echo: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(id)) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { id, port, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

/** A Dataplane of `service` with one plain (protocol-less) inbound on 127.0.0.1:`port`. */
export const echoDataplane = (name: string, service: string, port: number) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: { address: '127.0.0.1', inbound: [{ port, tags: { 'kuma.io/service': service } }] },
});

/**
 * Points this process's grpc-js-xds at a zone agent's ADS server as node `nodeId` and registers the `xds:`
 * scheme. grpc-js-xds reads its bootstrap once, when the first xds: channel is made, so call it once per
 * test file, before the first client.
 */
export async function registerXdsClient(opts: { xdsPort: number; nodeId: string; zone: string; token: string }): Promise<void> {
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${opts.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: opts.nodeId, locality: { zone: opts.zone }, metadata: { 'dataplane.token': opts.token } },
  });
  const xds = await import('@grpc/grpc-js-xds');
  xds.register();
}

/** One `xds:///<service>` client per service (made on first use), calling the echo method. */
export class EchoClients {
  private readonly clients = new Map<string, grpc.Client>();

  client(service: string): grpc.Client {
    let c = this.clients.get(service);
    if (!c) this.clients.set(service, (c = new grpc.Client(`xds:///${service}`, grpc.credentials.createInsecure())));
    return c;
  }

  /** One call with a 2 s deadline; resolves with the id of the server that answered. */
  rpc(service: string): Promise<string> {
    return new Promise((resolve, reject) =>
      this.client(service).makeUnaryRequest(ECHO_PATH, identity, identity, Buffer.from('hi'), { deadline: Date.now() + 2000 }, (err, res) => (err ? reject(err) : resolve(res!.toString()))),
    );
  }

  /** `n` calls, `parallel` at a time: calls answered per server id. */
  async count(service: string, n: number, parallel: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (let done = 0; done < n; done += parallel) {
      const ids = await Promise.all(Array.from({ length: Math.min(parallel, n - done) }, () => this.rpc(service)));
      for (const id of ids) out[id] = (out[id] ?? 0) + 1;
    }
    return out;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}
