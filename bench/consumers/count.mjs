// Shared by the Node consumers: counts row changes and transactions, and
// ends the process with one JSON line once the expected numbers are reached.
export function counter(cfg) {
  const t0 = process.hrtime.bigint();
  const c = { rows: 0, txns: 0 };

  c.finish = (code, error) => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(JSON.stringify({ rows: c.rows, txns: c.txns, ms, error }));
    process.exit(code);
  };
  // At a commit: the whole stream has been seen once both counts are reached.
  c.commit = () => {
    c.txns += 1;
    if (c.rows >= cfg.rows && c.txns >= cfg.txns) c.finish(0);
  };
  c.fail = (err) => c.finish(1, String(err));
  return c;
}
