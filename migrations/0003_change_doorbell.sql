-- Change doorbell: after every write to `resources`, NOTIFY `ursa_changes` with "<tenant> <kind>" (keys
-- only, never data: readers fetch changes from the feed themselves). NOTIFY is delivered at commit, and
-- identical payloads within one transaction are delivered once, so a batch rings once per kind.
-- Works on PostgreSQL (every replica LISTENs) and inside PGlite's own process.
CREATE OR REPLACE FUNCTION ursa_ring_change_doorbell() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('ursa_changes', NEW.tenant_id || ' ' || NEW.kind);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER resources_change_doorbell
  AFTER INSERT OR UPDATE ON resources
  FOR EACH ROW EXECUTE FUNCTION ursa_ring_change_doorbell();
