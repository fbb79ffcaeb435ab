/** The wire protocols and document names, shared by the server and the editor; imports neither. */
export * from './awareness.js';
export * from './document-name.js';
export { ProtocolError, type ProtocolErrorCode } from './errors.js';
export * from './y-websocket.js';
export * from './yjs-update.js';
export { UpdateScanner } from './yjs-internals.js';
