/**
 * The part of y-leveldb (y-websocket's LevelDB persistence) the format tests use: its package
 * ships types that its `exports` map does not name, so TypeScript cannot find them.
 */
declare module 'y-leveldb' {
  export class LeveldbPersistence {
    constructor(location: string);
    storeUpdate(docName: string, update: Uint8Array): Promise<number>;
    getYDoc(docName: string): Promise<import('yjs').Doc>;
    destroy(): Promise<void>;
  }
}
