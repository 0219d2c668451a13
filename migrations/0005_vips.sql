CREATE TABLE "dns_vips" (
	"tenant_id" text NOT NULL,
	"mesh" text NOT NULL,
	"service" text NOT NULL,
	"ip" text NOT NULL,
	"allocated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"freed_at" timestamp with time zone,
	CONSTRAINT "dns_vips_pk" PRIMARY KEY("tenant_id","mesh","ip")
);
--> statement-breakpoint
ALTER TABLE "dns_vips" ADD CONSTRAINT "dns_vips_tenant_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "dns_vips_service_idx" ON "dns_vips" USING btree ("tenant_id","mesh","service");