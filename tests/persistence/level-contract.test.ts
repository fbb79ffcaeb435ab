/** The DocumentStore contract, on LevelDB in a temporary directory. */
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { makeTempDir, redirectJournal } from './helpers.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('LevelDocumentStore', async () => {
  const { dir, cleanup } = await makeTempDir();
  return {
    open: () => LevelDocumentStore.open(dir),
    child: { kind: 'level', dir },
    remove: cleanup,
    // A full disk, for the journal: its descriptor points at /dev/full (ENOSPC) until it passes.
    interrupt: async () => redirectJournal(dir, '/dev/full'),
  };
});
