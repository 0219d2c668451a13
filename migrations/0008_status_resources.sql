CREATE TABLE "status_resources" (
	"tenant_id" text NOT NULL,
	"kind" text NOT NULL,
	"mesh" text DEFAULT '' NOT NULL,
	"name" text NOT NULL,
	"spec" jsonb NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"version" integer NOT NULL,
	"revision" bigint NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"creation_time" timestamp with time zone NOT NULL,
	"modification_time" timestamp with time zone NOT NULL,
	CONSTRAINT "status_resources_pk" PRIMARY KEY("tenant_id","kind","mesh","name")
);
--> statement-breakpoint
ALTER TABLE "status_resources" ADD CONSTRAINT "status_resources_tenant_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- Existing ZoneInsights (descriptor `storage: 'status'`) move to the new table: live ones keep their version
-- and times and take revision 0; their feed rows and tombstones go (no zone ever received them: `kds: 'none'`).
INSERT INTO "status_resources" ("tenant_id", "kind", "mesh", "name", "spec", "labels", "version", "revision", "deleted", "creation_time", "modification_time")
  SELECT "tenant_id", "kind", "mesh", "name", "spec", "labels", "version", 0, false, "creation_time", "modification_time"
  FROM "resources" WHERE "kind" = 'ZoneInsight' AND NOT "deleted";
--> statement-breakpoint
DELETE FROM "resources" WHERE "kind" = 'ZoneInsight';
