import { connect, createServer, Socket } from 'node:net';
import { sleep } from './child-service';

export interface SlowProxy {
  /** `http://127.0.0.1:<port>`: give it to the client instead of the target's. */
  readonly endpoint: string;
  /** From now on every chunk, either way, is passed on `ms` after it arrived (in order). 0: at once. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy in front of `targetPort` that can be made slow: a store under load, a
 * congested link. Nothing is refused or cut; bytes only arrive late.
 */
export async function startSlowProxy(targetPort: number): Promise<SlowProxy> {
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const relay = (from: Socket, to: Socket) => {
    // One chain per direction keeps the chunks in order whatever the delay when each arrived.
    let delivered = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const due = Date.now() + delayMs;
      delivered = delivered.then(async () => {
        await sleep(Math.max(0, due - Date.now()));
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.once('end', () => void delivered.then(() => to.end()));
    from.once('close', () => void delivered.then(() => to.destroy()));
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    setDelay(ms) {
      delayMs = ms;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
