import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * At close, Fastify ends the idle keep-alive connections and waits for the requests in flight, but
 * not for connections that have not sent a request yet: Node counts those as active (their headers
 * timeout runs), so the close waited for that timeout, 60 to 90 s. HTTP clients open such
 * connections ahead of need (browsers preconnect; undici's pool opened one for a request that was
 * then served elsewhere, which hung the test suite's closes now and then). This ends every
 * connection that has no request in flight when the close begins; requests in flight still finish.
 */
export function closeConnectionsWithoutRequest(fastify: FastifyInstance): void {
  const requestsInFlight = new Map<Socket, number>();
  fastify.server.on('connection', (socket: Socket) => {
    requestsInFlight.set(socket, 0);
    socket.once('close', () => requestsInFlight.delete(socket));
  });
  fastify.server.on('request', (request, response) => {
    const socket = request.socket;
    requestsInFlight.set(socket, (requestsInFlight.get(socket) ?? 0) + 1);
    response.once('close', () => {
      if (requestsInFlight.has(socket)) requestsInFlight.set(socket, requestsInFlight.get(socket)! - 1);
    });
  });
  fastify.addHook('preClose', (done) => {
    for (const [socket, requests] of requestsInFlight) if (requests === 0) socket.destroy();
    done();
  });
}
