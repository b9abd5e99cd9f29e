-- Schema of the benchmark database "bench" on PostgreSQL (bench/bench.py).
-- items: the throughput stream (1 M row changes); lat: one row, one unique tag per
-- transaction (latency); hot: 20 rows whose every change also purges hot-list
-- (coalescing); fan: the fan-out backlog; big: the 1 M-row transaction.
CREATE TABLE items(id bigint PRIMARY KEY, cat int NOT NULL, name text NOT NULL);
-- UPDATE carries the old row: tags from non-key columns (cat-N) are exact.
ALTER TABLE items REPLICA IDENTITY FULL;
CREATE TABLE lat(id bigint PRIMARY KEY);
CREATE TABLE hot(id int PRIMARY KEY, v int NOT NULL);
INSERT INTO hot SELECT g, 0 FROM generate_series(1, 20) g;
CREATE TABLE fan(id bigint PRIMARY KEY);
CREATE TABLE big(id bigint PRIMARY KEY);

-- n_txn transactions of per rows each: INSERT ids 1 .. n_txn * per.
CREATE PROCEDURE gen_items(n_txn int, per int) LANGUAGE plpgsql AS $$
BEGIN
  FOR t IN 0 .. n_txn - 1 LOOP
    INSERT INTO items SELECT g, g % 100, 'item ' || g
      FROM generate_series(t::bigint * per + 1, (t + 1)::bigint * per) g;
    COMMIT;
  END LOOP;
END $$;

-- The same rows again, UPDATEd (category moves), per rows per transaction.
CREATE PROCEDURE upd_items(n_txn int, per int) LANGUAGE plpgsql AS $$
BEGIN
  FOR t IN 0 .. n_txn - 1 LOOP
    UPDATE items SET cat = cat + 1 WHERE id BETWEEN t::bigint * per + 1 AND (t + 1)::bigint * per;
    COMMIT;
  END LOOP;
END $$;

CREATE PUBLICATION tput FOR TABLE items;
CREATE PUBLICATION sinkpub FOR TABLE lat, hot, fan, big;
