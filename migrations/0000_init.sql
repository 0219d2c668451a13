CREATE TABLE "resources" (
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
	CONSTRAINT "resources_pk" PRIMARY KEY("tenant_id","kind","mesh","name")
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"revision" bigint DEFAULT 0 NOT NULL,
	"compacted_revision" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "resources" ADD CONSTRAINT "resources_tenant_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "resources_feed_idx" ON "resources" USING btree ("tenant_id","revision");--> statement-breakpoint
CREATE INDEX "resources_labels_idx" ON "resources" USING gin ("labels");