-- Schema of the benchmark database "bench" on MariaDB (bench/bench.py); the
-- same tables as pg.sql.
CREATE TABLE items(id bigint PRIMARY KEY, cat int NOT NULL, name varchar(64) NOT NULL);
CREATE TABLE lat(id bigint PRIMARY KEY);
CREATE TABLE hot(id int PRIMARY KEY, v int NOT NULL);
INSERT INTO hot SELECT seq, 0 FROM seq_1_to_20;
CREATE TABLE fan(id bigint PRIMARY KEY);
CREATE TABLE big(id bigint PRIMARY KEY);

DELIMITER //
-- n_txn transactions of per (<= 1000) rows each: INSERT ids 1 .. n_txn * per.
CREATE PROCEDURE gen_items(n_txn INT, per INT)
BEGIN
  DECLARE t INT DEFAULT 0;
  WHILE t < n_txn DO
    START TRANSACTION;
    INSERT INTO items SELECT t * per + seq, (t * per + seq) % 100, CONCAT('item ', t * per + seq)
      FROM seq_1_to_1000 WHERE seq <= per;
    COMMIT;
    SET t = t + 1;
  END WHILE;
END//
-- The same rows again, UPDATEd (category moves), per rows per transaction.
CREATE PROCEDURE upd_items(n_txn INT, per INT)
BEGIN
  DECLARE t INT DEFAULT 0;
  WHILE t < n_txn DO
    START TRANSACTION;
    UPDATE items SET cat = cat + 1 WHERE id BETWEEN t * per + 1 AND (t + 1) * per;
    COMMIT;
    SET t = t + 1;
  END WHILE;
END//
DELIMITER ;

-- The load generator's account; created outside the binlog.
SET SESSION sql_log_bin = 0;
CREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY 'benchpw';
GRANT ALL ON bench.* TO 'bench'@'127.0.0.1';
SET SESSION sql_log_bin = 1;
