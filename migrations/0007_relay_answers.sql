CREATE TABLE "kds_relay_answers" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"status" integer NOT NULL,
	"content_type" text NOT NULL,
	"body" text NOT NULL,
	"answered_at" timestamp with time zone DEFAULT now() NOT NULL
);
