/**
 * The floor: not a document server, but the least any Node server speaking this protocol can do.
 * It holds no Y.Doc and stores nothing. It answers each client's sync step 1 with an empty sync
 * step 2, and forwards every update message as it came, framed once, to the other sockets on the
 * same path. Its transport is ours (`ServerWebSocket`, frames built once per message), so what the
 * benchmark measures for it is the cost of the sockets alone: what no server can spend less on,
 * whatever it does with the documents.
 *
 * Its figures are a reference beside the peers', never a peer's (see `ServerSpec.role`).
 *
 *   node dist/bench/peers/relay-floor.js --host 127.0.0.1 --port 0 [--fault drop|duplicate|misdeliver]
 *
 * `--fault` is for the harness's own tests (`tests/bench/`), never for a measurement: every
 * `FAULT_EVERY`th update is forwarded wrongly, so a test can see the delivery accounting catch it.
 * `drop` leaves out one of its recipients, `duplicate` sends it to one of them twice, and
 * `misdeliver` also sends it to every socket of another room.
 */
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { handshakeKey, handshakeResponse } from '../../server/websocket/handshake.js';
import { SharedMessage } from '../../server/websocket/message-socket.js';
import { ServerWebSocket } from '../../server/websocket/websocket.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    fault: { type: 'string' },
  },
});

const FAULTS = ['drop', 'duplicate', 'misdeliver'] as const;
type Fault = (typeof FAULTS)[number];
const FAULT_EVERY = 25;
const fault = values.fault as Fault | undefined;
if (fault !== undefined && !FAULTS.includes(fault)) {
  console.error(`--fault must be one of ${FAULTS.join(', ')}, not "${fault}"`);
  process.exit(2);
}
let forwarded = 0;

// y-websocket messages: [0 = sync, submessage, ...]; submessage 0 is step 1, 2 an update.
const SYNC_STEP_2_EMPTY = new Uint8Array([0, 1, 2, 0, 0]);

const rooms = new Map<string, Set<ServerWebSocket>>();

const server = createServer((_request, response) => {
  response.writeHead(404).end();
});

server.on('upgrade', (request, tcp: Socket, head: Buffer) => {
  let key: string;
  try {
    key = handshakeKey(request);
  } catch {
    tcp.destroy(); // only the benchmark's own clients connect; none sends a bad handshake
    return;
  }
  const path = request.url ?? '/';
  let room = rooms.get(path);
  if (room === undefined) rooms.set(path, (room = new Set()));
  const peers = room;
  tcp.write(handshakeResponse(key));
  const socket: ServerWebSocket = new ServerWebSocket(tcp, 1024 * 1024);
  peers.add(socket);
  socket.start(
    {
      onMessage: (data) => {
        if (data[0] !== 0) return;
        if (data[1] === 0) socket.send(SYNC_STEP_2_EMPTY);
        else if (data[1] === 2) {
          const frame = SharedMessage.of(data);
          if (fault !== undefined && ++forwarded % FAULT_EVERY === 0) forwardWrongly(fault, frame, socket, peers);
          else for (const other of peers) if (other !== socket) other.sendShared(frame);
        }
      },
      onPong: () => undefined,
      onError: () => undefined, // a closing socket; onClose follows
      onClose: () => {
        peers.delete(socket);
        if (peers.size === 0) rooms.delete(path);
      },
    },
    head,
  );
});

/** Forwards one update the way `fault` says (see the top of this file). */
function forwardWrongly(fault: Fault, frame: SharedMessage, sender: ServerWebSocket, peers: Set<ServerWebSocket>): void {
  const recipients = [...peers].filter((peer) => peer !== sender);
  for (const [i, recipient] of recipients.entries()) if (i > 0 || fault !== 'drop') recipient.sendShared(frame);
  if (fault === 'duplicate') recipients[0]?.sendShared(frame);
  if (fault === 'misdeliver') {
    const elsewhere = [...rooms.values()].find((room) => room !== peers) ?? new Set<ServerWebSocket>();
    for (const stranger of elsewhere) stranger.sendShared(frame);
  }
}

server.listen(Number(values.port), values.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  console.log(JSON.stringify({ msg: 'listening', port, ...(fault === undefined ? {} : { fault, faultEvery: FAULT_EVERY }) }));
});
