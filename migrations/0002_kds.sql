CREATE TABLE "kds_staging" (
	"tenant_id" text NOT NULL,
	"zone" text NOT NULL,
	"snapshot_id" text NOT NULL,
	"kind" text NOT NULL,
	"mesh" text NOT NULL,
	"name" text NOT NULL,
	"labels" jsonb NOT NULL,
	"spec" jsonb NOT NULL,
	"staged_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "kds_staging_pk" PRIMARY KEY("tenant_id","zone","snapshot_id","kind","mesh","name")
);
--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"tenant_id" text NOT NULL,
	"kid" text NOT NULL,
	"secret" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	CONSTRAINT "signing_keys_pk" PRIMARY KEY("tenant_id","kid")
);
--> statement-breakpoint
CREATE TABLE "zone_sessions" (
	"tenant_id" text NOT NULL,
	"zone" text NOT NULL,
	"inventory_revision" bigint DEFAULT 0 NOT NULL,
	"acked_revision" bigint DEFAULT 0 NOT NULL,
	"session_id" text,
	"global_instance_id" text,
	"lease_expires_at" timestamp with time zone,
	"connected_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone,
	CONSTRAINT "zone_sessions_pk" PRIMARY KEY("tenant_id","zone")
);
--> statement-breakpoint
CREATE TABLE "zone_tokens" (
	"jti" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"zone" text NOT NULL,
	"kid" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "signing_keys" ADD CONSTRAINT "signing_keys_tenant_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "zone_sessions" ADD CONSTRAINT "zone_sessions_tenant_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "zone_tokens" ADD CONSTRAINT "zone_tokens_tenant_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "zone_tokens_tenant_zone_idx" ON "zone_tokens" USING btree ("tenant_id","zone");