-- Run once by the postgres image on an empty data volume (docker-compose.yml).
-- One database per service: no service reads another's tables. `python -m services.<name>
-- migrate` would create a missing one too; creating them here keeps the first start simple.
CREATE DATABASE housing_intake;
CREATE DATABASE housing_review;
CREATE DATABASE housing_verification;
CREATE DATABASE housing_alerting;
CREATE DATABASE housing_publication;
CREATE DATABASE housing_credit;
CREATE DATABASE housing_allocation;
CREATE DATABASE housing_tenancy;
