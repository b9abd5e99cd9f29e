#!/bin/sh
# PostgreSQL first start (/docker-entrypoint-initdb.d): the tagpurge role and a demo schema.
# Logical decoding itself is switched on by the server command line in compose.yml.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="${TAGPURGE_PG_PASSWORD:?}" <<'SQL'
CREATE ROLE tagpurge LOGIN REPLICATION PASSWORD :'pw';
-- "create": true in the config: tagpurge creates the publication (CREATE on the database,
-- ownership of the tables) and the replication slot itself.
GRANT CREATE ON DATABASE shop TO tagpurge;
-- Schema "shop" like the MariaDB database: one mapping ("shop.products") serves both sources.
CREATE SCHEMA shop AUTHORIZATION tagpurge;
CREATE TABLE shop.categories (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.products (
  id int PRIMARY KEY,
  category_id int NOT NULL REFERENCES shop.categories,
  name text NOT NULL,
  price numeric(10, 2) NOT NULL,
  view_count int NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now());
-- A product moving from category 3 to 4 must purge category-3 too: keep old rows whole.
ALTER TABLE shop.products REPLICA IDENTITY FULL;
ALTER TABLE shop.categories OWNER TO tagpurge;
ALTER TABLE shop.products OWNER TO tagpurge;
INSERT INTO shop.categories VALUES (3, 'Lamps'), (4, 'Chairs');
INSERT INTO shop.products (id, category_id, name, price) VALUES (1, 3, 'Desk lamp', 29.90);
SQL
