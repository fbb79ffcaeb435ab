/** The DocumentStore contract, on LevelDB in a temporary directory. */
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { makeTempDir } from './helpers.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('LevelDocumentStore', async () => {
  const { dir, cleanup } = await makeTempDir();
  return {
    open: () => LevelDocumentStore.open(dir),
    child: { kind: 'level', dir },
    remove: cleanup,
  };
});
