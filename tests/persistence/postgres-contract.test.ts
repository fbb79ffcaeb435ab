/**
 * The DocumentStore contract on PostgreSQL: a schema of its own per test, in the database of this
 * file on the run's shared cluster, reached through a fault proxy that cuts it to interrupt the store.
 */
import { PostgresDocumentStore } from '../../persistence/postgres/store.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { describeWithPostgres, databaseOfSuite } from '../helpers/postgres.js';
import { describeStoreContract } from './store-contract.js';

describeWithPostgres('PostgresDocumentStore on a real PostgreSQL', () => {
  const own = databaseOfSuite();

  describeStoreContract('PostgresDocumentStore', async () => {
    const schema = `s_${Math.random().toString(36).slice(2, 10)}`;
    const proxy = await FaultProxy.forPostgres(own.cluster.socketDir);
    return {
      open: () => PostgresDocumentStore.open({ connection: { ...own.database.connection, host: proxy.dir }, schema }),
      child: { kind: 'postgres', connection: own.database.connection, schema },
      remove: async () => {
        await proxy.close();
        await own.cluster.admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, own.database.name);
      },
      // PostgreSQL out of reach: the proxy resets every connection and refuses new ones.
      interrupt: async () => {
        await proxy.cut();
        return () => void proxy.restore();
      },
    };
  });
});
