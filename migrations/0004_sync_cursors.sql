CREATE TABLE "sync_cursors" (
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"value" bigint NOT NULL,
	CONSTRAINT "sync_cursors_pk" PRIMARY KEY("tenant_id","name")
);
