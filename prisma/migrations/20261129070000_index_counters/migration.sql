-- GET /statistics and the orthanc_count_* metrics without counting the index. Every statement
-- that adds or removes patients, studies, series or instances appends one row of deltas here
-- (statement-level triggers over the rows it changed), so that concurrent uploads and workers
-- never queue on a shared counter row; the counts are the sums of the rows. Every 1024th row
-- folds the table into one row, so a read sums a few hundred rows at most.

-- CreateTable
CREATE TABLE "index_counters" (
    "id" BIGSERIAL NOT NULL,
    "patients" BIGINT NOT NULL DEFAULT 0,
    "studies" BIGINT NOT NULL DEFAULT 0,
    "series" BIGINT NOT NULL DEFAULT 0,
    "instances" BIGINT NOT NULL DEFAULT 0,
    "total_size" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "index_counters_pkey" PRIMARY KEY ("id")
);

-- The rows replaced by their sum, in one statement: a delta committed meanwhile is not visible to
-- it, so it is neither deleted nor summed, and stays for the next fold.
CREATE FUNCTION index_counters_fold() RETURNS void LANGUAGE sql AS $$
  WITH gone AS (DELETE FROM index_counters RETURNING *)
  INSERT INTO index_counters (patients, studies, series, instances, total_size)
  SELECT sum(patients), sum(studies), sum(series), sum(instances), sum(total_size) FROM gone HAVING count(*) > 0;
$$;

CREATE FUNCTION index_counters_add(patients bigint, studies bigint, series bigint, instances bigint, total_size bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE added bigint;
BEGIN
  INSERT INTO index_counters (patients, studies, series, instances, total_size)
  VALUES (patients, studies, series, instances, total_size) RETURNING id INTO added;
  -- One folder at a time (the key is "didcount" in ASCII); the others leave it to the next 1024th.
  IF added % 1024 = 0 AND pg_try_advisory_xact_lock(7235424654581919348) THEN
    PERFORM index_counters_fold();
  END IF;
END $$;

-- `changed` is the statement's transition table: the new rows of an INSERT, the old rows of a
-- DELETE (cascaded deletions included).
CREATE FUNCTION index_counters_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sign int := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
  n bigint;
  size bigint := 0;
BEGIN
  IF TG_TABLE_NAME = 'instances' THEN
    SELECT count(*), COALESCE(sum(file_size), 0) INTO n, size FROM changed;
  ELSE
    SELECT count(*) INTO n FROM changed;
  END IF;
  IF n > 0 THEN
    PERFORM index_counters_add(
      CASE TG_TABLE_NAME WHEN 'patients' THEN sign * n ELSE 0 END,
      CASE TG_TABLE_NAME WHEN 'studies' THEN sign * n ELSE 0 END,
      CASE TG_TABLE_NAME WHEN 'series' THEN sign * n ELSE 0 END,
      CASE TG_TABLE_NAME WHEN 'instances' THEN sign * n ELSE 0 END,
      sign * size);
  END IF;
  RETURN NULL;
END $$;

-- The counts from the tables themselves: at creation, and after a TRUNCATE (which has no
-- transition table).
CREATE FUNCTION index_counters_reset() RETURNS void LANGUAGE sql AS $$
  DELETE FROM index_counters;
  INSERT INTO index_counters (patients, studies, series, instances, total_size)
  SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM studies), (SELECT count(*) FROM series),
         (SELECT count(*) FROM instances), COALESCE((SELECT sum(file_size) FROM instances), 0);
$$;

CREATE FUNCTION index_counters_recount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM index_counters_reset();
  RETURN NULL;
END $$;

-- A trigger with a transition table takes one event: one trigger for INSERT and one for DELETE.
-- Creating them locks each table against writes until this migration commits, so the counts
-- below miss nothing and count nothing twice.
DO $$
DECLARE indexed text;
BEGIN
  FOREACH indexed IN ARRAY ARRAY['patients', 'studies', 'series', 'instances'] LOOP
    EXECUTE format('CREATE TRIGGER index_counters_insert AFTER INSERT ON %I REFERENCING NEW TABLE AS changed
                    FOR EACH STATEMENT EXECUTE FUNCTION index_counters_track()', indexed);
    EXECUTE format('CREATE TRIGGER index_counters_delete AFTER DELETE ON %I REFERENCING OLD TABLE AS changed
                    FOR EACH STATEMENT EXECUTE FUNCTION index_counters_track()', indexed);
    EXECUTE format('CREATE TRIGGER index_counters_truncate AFTER TRUNCATE ON %I
                    FOR EACH STATEMENT EXECUTE FUNCTION index_counters_recount()', indexed);
  END LOOP;
END $$;

SELECT index_counters_reset();
