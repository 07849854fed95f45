"""The reference's customer tables (Znuny 6.5 names and column sizes), for the import's tests and benchmark."""

TABLES = """
CREATE TABLE customer_company (customer_id varchar(150) PRIMARY KEY, name varchar(200) NOT NULL, street varchar(200),
  zip varchar(200), city varchar(200), country varchar(200), url varchar(200), comments varchar(250),
  valid_id smallint NOT NULL);
CREATE TABLE customer_user (id serial PRIMARY KEY, login varchar(200) NOT NULL, email varchar(150) NOT NULL,
  customer_id varchar(150) NOT NULL, pw varchar(128), title varchar(50), first_name varchar(100) NOT NULL,
  last_name varchar(100) NOT NULL, phone varchar(150), fax varchar(150), mobile varchar(150), street varchar(150),
  zip varchar(200), city varchar(200), country varchar(200), comments varchar(250), valid_id smallint NOT NULL);
CREATE TABLE customer_preferences (user_id varchar(250) NOT NULL, preferences_key varchar(150) NOT NULL,
  preferences_value varchar(250));
CREATE TABLE customer_user_customer (user_id varchar(100) NOT NULL, customer_id varchar(150) NOT NULL);
CREATE TABLE permission_groups (id serial PRIMARY KEY, name varchar(200) NOT NULL, comments varchar(250),
  valid_id smallint NOT NULL);
CREATE TABLE group_customer_user (user_id varchar(100) NOT NULL, group_id integer NOT NULL,
  permission_key varchar(20) NOT NULL, permission_value smallint NOT NULL);
CREATE TABLE group_customer (customer_id varchar(150) NOT NULL, group_id integer NOT NULL,
  permission_key varchar(20) NOT NULL, permission_value smallint NOT NULL, permission_context varchar(100) NOT NULL);
CREATE TABLE service (id serial PRIMARY KEY, name varchar(200) NOT NULL, comments varchar(250), valid_id smallint NOT NULL);
CREATE TABLE service_customer_user (customer_user_login varchar(200) NOT NULL, service_id integer NOT NULL);
"""
