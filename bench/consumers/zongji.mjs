// Minimal @vlasky/zongji consumer for the throughput benchmark: reads the binlog
// from a given file and position, counts row changes (a rows event carries
// several rows) and transactions (XID events) of one table, and exits as soon
// as it has seen the expected numbers. Prints one JSON line (count.mjs).
//
//   node zongji.mjs '{"host":..,"port":..,"user":..,"password":..,"serverId":..,
//                     "file":..,"db":..,"table":..,"rows":N,"txns":T}'
import ZongJi from '@vlasky/zongji';
import { counter } from './count.mjs';

const cfg = JSON.parse(process.argv[2]);
const count = counter(cfg);
const zongji = new ZongJi({
  host: cfg.host, port: cfg.port, user: cfg.user, password: cfg.password,
});

zongji.on('binlog', (evt) => {
  switch (evt.getEventName()) {
    case 'writerows':
    case 'updaterows':
    case 'deleterows':
      count.rows += evt.rows.length;
      break;
    case 'xid':
      count.commit();
      break;
    default:
      break;
  }
});
zongji.on('error', count.fail);

zongji.start({
  serverId: cfg.serverId,
  filename: cfg.file,
  position: 4,
  includeEvents: ['tablemap', 'writerows', 'updaterows', 'deleterows', 'xid'],
  includeSchema: { [cfg.db]: [cfg.table] },
});
