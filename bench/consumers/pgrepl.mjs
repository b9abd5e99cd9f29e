// Minimal pg-logical-replication consumer for the throughput benchmark: streams
// a pgoutput slot, counts row changes (insert, update, delete messages) and
// transactions (commit messages), and exits as soon as it has seen the expected
// numbers. Prints one JSON line (count.mjs).
//
//   node pgrepl.mjs '{"host":..,"port":..,"user":..,"database":..,"slot":..,
//                     "publication":..,"rows":N,"txns":T}'
import pglr from 'pg-logical-replication';
import { counter } from './count.mjs';

const { LogicalReplicationService, PgoutputPlugin } = pglr;
const cfg = JSON.parse(process.argv[2]);
const count = counter(cfg);
const service = new LogicalReplicationService(
  { host: cfg.host, port: cfg.port, user: cfg.user, database: cfg.database },
  { acknowledge: { auto: true, timeoutSeconds: 10 } },
);
const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [cfg.publication] });

service.on('data', (lsn, msg) => {
  switch (msg.tag) {
    case 'insert':
    case 'update':
    case 'delete':
      count.rows += 1;
      break;
    case 'commit':
      count.commit();
      break;
    default:
      break;
  }
});
service.on('error', count.fail);
service.subscribe(plugin, cfg.slot).catch(count.fail);
