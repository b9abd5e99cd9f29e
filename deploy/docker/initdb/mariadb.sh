#!/bin/sh
# MariaDB first start (/docker-entrypoint-initdb.d): the tagpurge replication user and a
# demo schema. The binlog settings tagpurge needs are on the server command line in compose.yml.
set -eu
mariadb --protocol=socket -uroot -p"${MARIADB_ROOT_PASSWORD:?}" <<SQL
CREATE USER 'tagpurge'@'%' IDENTIFIED BY '${TAGPURGE_MYSQL_PASSWORD:?}';
GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT, REFERENCES ON *.* TO 'tagpurge'@'%';
CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE shop.categories (id int PRIMARY KEY, name varchar(100) NOT NULL);
CREATE TABLE shop.products (
  id int PRIMARY KEY,
  category_id int NOT NULL,
  name varchar(200) NOT NULL,
  price decimal(10, 2) NOT NULL,
  view_count int NOT NULL DEFAULT 0,
  updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
INSERT INTO shop.categories VALUES (3, 'Lamps'), (4, 'Chairs');
INSERT INTO shop.products (id, category_id, name, price) VALUES (1, 3, 'Desk lamp', 29.90);
SQL
